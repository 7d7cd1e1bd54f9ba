//! Operations built on the client and storage layers. They never print:
//! progress goes to an observer the caller supplies.

pub mod copy;
pub mod du;
pub mod gc;
pub mod platform;
pub mod prune;
pub mod remove;
pub mod resolve;
