//! Day-2 operations on an installed cluster, prepared and finished the same way
//! whether the command line runs them in its own process or the wizard hands them to
//! an engine process (`detached`): what they change, their plan, and the cluster's
//! record once they went through.

pub mod certs;
