//! Checking passwords at sign-in on a small pool of its own: `workers` threads, each with one
//! argon2 memory block allocated when it starts and reused for every check (argon2id with the
//! crate's default cost needs 19 MiB; allocating it per check let the allocator keep one such
//! buffer per thread of the shared blocking pool), fed by a queue of at most `queue` checks. A
//! sign-in first reserves a place ([`PasswordPool::reserve`]); when every place is taken it is
//! refused at once ([`Busy`]) — before it counts against anyone's throttle — so a flood of
//! sign-ins costs a fixed amount of memory and at most `workers` cores. An unknown account is
//! checked against a dummy hash of the same cost: the answer takes as long as for a known one.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// A hash of the same cost as every stored one, checked for accounts that do not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXlzYWx0ZHVtbXk$3wWX5I+fbfCAQI5LzJhMZ6Zyq1pZgNsmP9zzxrbSl8s";

/// The pool's size.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    pub workers: usize,
    pub queue: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            workers: 1,
            queue: 16,
        }
    }
}

/// Every worker is busy and the queue is full: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many sign-ins are being checked right now")]
pub struct Busy;

struct Job {
    password: String,
    hash: Option<String>,
    answer: tokio::sync::oneshot::Sender<bool>,
    _place: Place,
}

/// A reserved place in the pool (a worker or the queue), given back when its check is done.
pub struct Place(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

/// The password checker.
pub struct PasswordPool {
    jobs: SyncSender<Job>,
    places: Arc<tokio::sync::Semaphore>,
}

impl PasswordPool {
    /// Start the workers.
    pub fn start(config: PoolConfig) -> std::io::Result<PasswordPool> {
        let (jobs, queue) = sync_channel::<Job>(config.queue.max(1));
        let places = Arc::new(tokio::sync::Semaphore::new(
            config.queue.max(1) + config.workers.max(1),
        ));
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..config.workers.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("paydesk-password-{n}"))
                .spawn(move || work(&queue))?;
        }
        Ok(PasswordPool { jobs, places })
    }

    /// A place for one check, or [`Busy`] when every worker and queue place is taken.
    pub fn reserve(&self) -> Result<Place, Busy> {
        self.places
            .clone()
            .try_acquire_owned()
            .map(Place)
            .map_err(|_| Busy)
    }

    /// Does `password` match `hash` (a PHC string)? `None`: the account does not exist or has no
    /// password; the same work is done and the answer is no.
    pub async fn verify(
        &self,
        place: Place,
        password: &str,
        hash: Option<String>,
    ) -> Result<bool, Busy> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = Job {
            password: password.to_string(),
            hash,
            answer,
            _place: place,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Busy),
            Err(TrySendError::Disconnected(_)) => return Ok(false),
        }
        Ok(answered.await.unwrap_or(false))
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    let mut memory = vec![Block::default(); Params::DEFAULT.block_count()];
    loop {
        let job = match queue.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let known = job.hash.is_some();
        let hash = job.hash.as_deref().unwrap_or(DUMMY_HASH);
        let matched = matches(job.password.as_bytes(), hash, &mut memory) && known;
        let _ = job.answer.send(matched);
    }
}

/// Check `password` against the PHC string `hash` in `memory` (grown if the hash asks for more).
pub fn matches(password: &[u8], hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    if argon
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
        .is_err()
    {
        return false;
    }
    bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};

    #[test]
    fn a_reused_memory_block_checks_like_the_crate_does() {
        let hash = Argon2::default()
            .hash_password(b"correct horse", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        assert!(matches(b"correct horse", &hash, &mut memory));
        assert!(!matches(b"wrong horse", &hash, &mut memory));
        assert_eq!(memory.len(), Params::DEFAULT.block_count());
        assert!(matches(b"correct horse", &hash, &mut memory));
        assert!(!matches(b"x", "not a hash", &mut memory));
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (
                Params::DEFAULT_M_COST,
                Params::DEFAULT_T_COST,
                Params::DEFAULT_P_COST
            )
        );
        assert_eq!(parsed.algorithm, Algorithm::Argon2id.ident());
        assert!(!matches(b"anything", DUMMY_HASH, &mut Vec::new()));
    }

    #[test]
    fn when_every_place_is_taken_a_check_is_refused_at_once() {
        let pool = PasswordPool::start(PoolConfig {
            workers: 1,
            queue: 2,
        })
        .unwrap();
        let places: Vec<Place> = (0..3).map(|_| pool.reserve().unwrap()).collect();
        assert!(pool.reserve().is_err(), "a fourth place in a pool of 1 + 2");
        drop(places);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let place = pool.reserve().unwrap();
        assert_eq!(rt.block_on(pool.verify(place, "x", None)), Ok(false));
    }
}
