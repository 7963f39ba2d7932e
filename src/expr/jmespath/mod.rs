//! The LetsFlow JMESPath dialect.
