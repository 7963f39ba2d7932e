//! Mustache templates, rendered without HTML escaping.
