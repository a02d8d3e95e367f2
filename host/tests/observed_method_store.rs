//! The database's side of changes made on Stripe's side, the same checks on both engines: a
//! customer is found by its Stripe customer or by its automatic payment method within its tenant
//! only, and its automatic method is written as observed on Stripe's clock — an older observation
//! changes nothing, an equal one does, and `only_if` holds the write to a method still in place —
//! in one statement, so no read between decides it.

#[path = "../../tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "../../tests/src/services.rs"]
#[allow(dead_code)]
mod services;
#[path = "../../tests/src/sweep.rs"]
#[allow(dead_code)]
mod sweep;

use paydesk_host::db::{Database, DbError, NewCustomer, PgDb, SqliteDb};
use paydesk_host::tenant::TenantId;

fn check(db: &dyn Database) {
    let (a, b) = (
        TenantId::parse("acme").unwrap(),
        TenantId::parse("bolt").unwrap(),
    );
    db.create_tenant(&a, "Acme", "invoices@acme.test").unwrap();
    db.create_tenant(&b, "Bolt", "invoices@bolt.test").unwrap();
    let new = |name: &str| NewCustomer {
        name: name.into(),
        accounts_email: None,
        accounts_cc_email: None,
    };
    let c = db.create_customer(&a, &new("Globex")).unwrap().id;
    let other = db.create_customer(&a, &new("Initech")).unwrap().id;
    db.set_stripe_customer_id(&a, c, Some("cus_1")).unwrap();
    db.set_automatic_payment_method(&a, c, Some(("pm_1", "Visa ending 4242")))
        .unwrap();
    db.set_automatic_payment_method(&a, other, Some(("pm_9", "Visa ending 9999")))
        .unwrap();

    // Found by either Stripe id, in its own tenant only.
    let ids = |found: Vec<paydesk_host::contract::Customer>| -> Vec<i64> {
        found.into_iter().map(|c| c.id).collect()
    };
    assert_eq!(
        db.customer_by_stripe_id(&a, "cus_1").unwrap().unwrap().id,
        c
    );
    assert!(db.customer_by_stripe_id(&b, "cus_1").unwrap().is_none());
    assert!(db.customer_by_stripe_id(&a, "cus_2").unwrap().is_none());
    assert_eq!(
        ids(db.customers_by_automatic_method(&a, "pm_1", 100).unwrap()),
        [c]
    );
    assert!(
        db.customers_by_automatic_method(&b, "pm_1", 100)
            .unwrap()
            .is_empty()
    );

    // Ordered by Stripe's clock: newer and equal apply, older does not.
    let method = |id| db.customer(&a, id).unwrap().stripe_payment_method_id;
    assert!(
        db.observe_automatic_payment_method(&a, c, Some(("pm_2", "Visa ending 1111")), 200, None)
            .unwrap()
    );
    assert!(
        !db.observe_automatic_payment_method(&a, c, Some(("pm_1", "Visa ending 4242")), 199, None)
            .unwrap()
    );
    assert_eq!(method(c).as_deref(), Some("pm_2"));
    assert!(
        db.observe_automatic_payment_method(
            &a,
            c,
            Some(("pm_2", "Visa ending 1111, expires 01/2031")),
            200,
            None
        )
        .unwrap()
    );
    assert_eq!(
        db.customer(&a, c)
            .unwrap()
            .stripe_payment_method_name
            .as_deref(),
        Some("Visa ending 1111, expires 01/2031")
    );
    // `only_if`: a detach of a method no longer in place changes nothing, of the one in place clears it.
    assert!(
        !db.observe_automatic_payment_method(&a, c, None, 300, Some("pm_1"))
            .unwrap()
    );
    assert_eq!(method(c).as_deref(), Some("pm_2"));
    assert!(
        db.observe_automatic_payment_method(&a, c, None, 300, Some("pm_2"))
            .unwrap()
    );
    assert_eq!(method(c), None);
    assert!(
        db.customers_by_automatic_method(&a, "pm_2", 100)
            .unwrap()
            .is_empty()
    );
    // The other customer was never touched.
    assert_eq!(method(other).as_deref(), Some("pm_9"));

    // Another tenant's customer is not found, and nothing of it changes.
    assert!(matches!(
        db.observe_automatic_payment_method(&b, other, None, 400, None),
        Err(DbError::NotFound(_))
    ));
    assert_eq!(method(other).as_deref(), Some("pm_9"));
}

#[test]
fn sqlite_orders_the_automatic_method_by_stripes_clock() {
    let dir = tempfile::tempdir().unwrap();
    check(&SqliteDb::open(&dir.path().join("observed.db")).unwrap());
}

#[test]
fn postgres_orders_the_automatic_method_by_stripes_clock() {
    let cluster = postgres::Cluster::start().expect("PostgreSQL");
    let url = cluster.new_database().unwrap();
    check(&PgDb::open(&url).unwrap());
}
