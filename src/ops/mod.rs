//! Operations built on the client and storage layers. They never print:
//! progress goes to an observer the caller supplies.

pub mod copy;
pub mod du;
pub mod gc;
pub mod prune;
