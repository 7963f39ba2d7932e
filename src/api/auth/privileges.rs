//! Privileges: the names of what an authenticated caller may do (SPEC 6).
//!
//! A privilege is granted exactly by its name, or by `*`, which grants every privilege. The
//! reference engine has no prefix wildcards (`process:*`), so neither do we: a role that should
//! start and step processes lists both privileges.

/// The privilege that grants every other one.
pub const ALL: &str = "*";

/// Every privilege the node knows, as the reference engine names them.
pub const PRIVILEGES: &[&str] = &[
    ALL,
    "scenario:read",
    "scenario:write",
    "apikey:issue",
    "apikey:revoke",
    "process:super",
    "process:start",
    "process:step",
];

/// The privileges every authenticated user has unless the configuration says otherwise.
pub const DEFAULT_PRIVILEGES: &[&str] = &["process:start", "process:step"];

/// Whether `privilege` is one of [`PRIVILEGES`].
pub fn is_known(privilege: &str) -> bool {
    PRIVILEGES.contains(&privilege)
}

/// Whether holding `held` grants `wanted`: `*` grants everything, any other privilege only
/// itself.
pub fn grants<S: AsRef<str>>(held: &[S], wanted: &str) -> bool {
    held.iter()
        .map(AsRef::as_ref)
        .any(|p| p == ALL || p == wanted)
}

/// The union of privilege lists, each privilege once, in order of first appearance.
pub(super) fn union<'a, I, L>(lists: I) -> Vec<String>
where
    I: IntoIterator<Item = L>,
    L: IntoIterator<Item = &'a String>,
{
    let mut out: Vec<String> = Vec::new();
    for p in lists.into_iter().flatten() {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn star_grants_everything_other_privileges_only_themselves() {
        assert!(grants(&list(&["*"]), "process:super"));
        assert!(grants(&list(&["process:start"]), "process:start"));
        assert!(!grants(&list(&["process:start"]), "process:step"));
        assert!(!grants(&list(&["process:start"]), "*"));
        assert!(!grants(&list(&["process"]), "process:start"));
        assert!(!grants::<String>(&[], "process:start"));
    }

    #[test]
    fn union_keeps_first_appearance_order_without_duplicates() {
        let a = list(&["process:start", "process:step"]);
        let b = list(&["scenario:read", "process:start"]);
        assert_eq!(
            union([&a, &b]),
            list(&["process:start", "process:step", "scenario:read"])
        );
    }

    #[test]
    fn known_privileges() {
        assert!(is_known("*"));
        assert!(is_known("apikey:revoke"));
        assert!(!is_known("process:*"));
        assert!(!is_known("proces:start"));
    }
}
