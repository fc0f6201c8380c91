//! [`SharedStr`], the cheap-to-clone string of every name in the world and its
//! events; it belongs to the event vocabulary of the target interface.

pub use runbook_backend::events::SharedStr;
