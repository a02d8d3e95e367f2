//! paydesk's host: a wasmtime runtime that loads the Stripe plugin component with a fresh sandbox
//! per tenant call, the capabilities it grants (Stripe HTTP, storage, email, helpdesk records), the
//! embedded database, and the reference billing app (CLI, web, scheduler). A helpdesk that embeds
//! paydesk uses [`app::App`] (or implements the same WIT imports itself).

pub mod access;
pub mod addresses;
pub mod app;
pub mod autopay_cli;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod contract;
pub mod db;
pub mod demo;
pub mod limits;
pub mod limits_cli;
pub mod logging;
pub mod mailer;
pub mod metrics;
pub mod pdf;
pub mod plugin_cli;
pub mod runtime;
pub mod scheduler;
pub mod secret;
pub mod serve_options;
pub mod settings;
pub mod signin;
pub mod tenant;
pub mod throttle;
pub mod token_cli;
pub mod web;
pub mod webhook_signature;
