//! Expressions: the JMESPath dialect, Mustache templates and the data functions
//! (`<ref>`, `<tpl>`, `<select>`) that scenarios embed.

pub mod datafn;
pub mod jmespath;
pub mod mustache;
