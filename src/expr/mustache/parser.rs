//! From template source to nodes: finds the tags (with the delimiters the template sets),
//! removes standalone lines and nests the sections.

use super::ast::{Name, Node};
use super::error::{Error, Location};
use super::render::MAX_NESTING;

/// A tag as it is written, before nesting.
enum Tag<'s> {
    /// `{{name}}`, `{{{name}}}`, `{{& name}}`.
    Variable(&'s str),
    /// `{{#name}}` or, when `inverted`, `{{^name}}`.
    Open { name: &'s str, inverted: bool },
    /// `{{/name}}`.
    Close(&'s str),
    /// `{{> name}}`.
    Partial(&'s str),
    /// `{{! text }}`.
    Comment,
    /// `{{=OPEN CLOSE=}}`.
    Delimiters(&'s str, &'s str),
}

/// A section whose closing tag has not come yet.
struct OpenSection<'s> {
    name: &'s str,
    inverted: bool,
    /// Byte offset of the opening tag.
    start: usize,
    /// The nodes of the enclosing level, continued after the section closes.
    outer: Vec<Node>,
}

/// Parses a template's source into nodes.
pub(crate) fn parse(src: &str) -> Result<Vec<Node>, Error> {
    let mut open = "{{";
    let mut close = "}}";
    let mut pos = 0;
    let mut text = String::new();
    let mut nodes = Vec::new();
    let mut sections: Vec<OpenSection<'_>> = Vec::new();

    while let Some(found) = src[pos..].find(open) {
        let start = pos + found;
        text.push_str(&src[pos..start]);
        let (tag, end) = scan_tag(src, start, open, close)?;
        pos = end;

        // A standalone tag takes its whole line with it: the whitespace before it (at the
        // end of `text`, as no other tag is on the line) and the line break after it.
        let mut indent = "";
        if !matches!(tag, Tag::Variable(_)) {
            if let Some((before, next)) = standalone(src, start, end) {
                let keep = text.len().saturating_sub(before.len());
                if text.is_char_boundary(keep) {
                    text.truncate(keep);
                }
                indent = before;
                pos = next;
            }
        }

        match tag {
            Tag::Variable(name) => {
                flush(&mut text, &mut nodes);
                nodes.push(Node::Variable(Name::parse(name)));
            }
            Tag::Open { name, inverted } => {
                if sections.len() >= MAX_NESTING {
                    return Err(Error::TooDeep {
                        limit: MAX_NESTING,
                        at: Location::of(src, start),
                    });
                }
                flush(&mut text, &mut nodes);
                sections.push(OpenSection {
                    name,
                    inverted,
                    start,
                    outer: std::mem::take(&mut nodes),
                });
            }
            Tag::Close(name) => {
                flush(&mut text, &mut nodes);
                let Some(section) = sections.pop() else {
                    return Err(Error::UnopenedSection {
                        name: name.to_owned(),
                        at: Location::of(src, start),
                    });
                };
                if section.name != name {
                    return Err(Error::MismatchedClose {
                        expected: section.name.to_owned(),
                        found: name.to_owned(),
                        at: Location::of(src, start),
                    });
                }
                let children = std::mem::replace(&mut nodes, section.outer);
                nodes.push(Node::Section {
                    name: Name::parse(section.name),
                    inverted: section.inverted,
                    children,
                });
            }
            Tag::Partial(name) => {
                flush(&mut text, &mut nodes);
                nodes.push(Node::Partial {
                    name: name.to_owned(),
                    indent: indent.to_owned(),
                });
            }
            Tag::Comment => {}
            Tag::Delimiters(new_open, new_close) => {
                open = new_open;
                close = new_close;
            }
        }
    }
    text.push_str(&src[pos..]);
    flush(&mut text, &mut nodes);

    match sections.pop() {
        Some(section) => Err(Error::UnclosedSection {
            name: section.name.to_owned(),
            at: Location::of(src, section.start),
        }),
        None => Ok(nodes),
    }
}

/// Moves the pending text, if any, into a text node.
fn flush(text: &mut String, nodes: &mut Vec<Node>) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text)));
    }
}

/// Reads the tag whose opening delimiter is at `start`; returns it with the offset just
/// past its closing delimiter.
fn scan_tag<'s>(
    src: &'s str,
    start: usize,
    open: &str,
    close: &str,
) -> Result<(Tag<'s>, usize), Error> {
    let inner = start + open.len();
    let rest = &src[inner..];
    let unclosed = |close: String| Error::UnclosedTag {
        at: Location::of(src, start),
        close,
    };
    let named = |text: &'s str| {
        let name = text.trim();
        if name.is_empty() {
            Err(Error::EmptyName {
                at: Location::of(src, start),
            })
        } else {
            Ok(name)
        }
    };

    if let Some(body) = rest.strip_prefix('{') {
        // `{{{name}}}`: the name ends at `}` followed by the closing delimiter.
        let closing = format!("}}{close}");
        let i = body
            .find(&closing)
            .ok_or_else(|| unclosed(closing.clone()))?;
        let end = inner + 1 + i + closing.len();
        return Ok((Tag::Variable(named(&body[..i])?), end));
    }
    if let Some(body) = rest.strip_prefix('=') {
        // `{{=OPEN CLOSE=}}`: the delimiters end at `=` followed by the closing delimiter.
        let closing = format!("={close}");
        let Some(i) = body.find(&closing) else {
            return Err(if body.contains(close) {
                Error::InvalidDelimiters {
                    at: Location::of(src, start),
                }
            } else {
                unclosed(closing)
            });
        };
        let end = inner + 1 + i + closing.len();
        let mut parts = body[..i].split_whitespace();
        return match (parts.next(), parts.next(), parts.next()) {
            (Some(new_open), Some(new_close), None)
                if !new_open.contains('=') && !new_close.contains('=') =>
            {
                Ok((Tag::Delimiters(new_open, new_close), end))
            }
            _ => Err(Error::InvalidDelimiters {
                at: Location::of(src, start),
            }),
        };
    }

    let i = rest.find(close).ok_or_else(|| unclosed(close.to_owned()))?;
    let end = inner + i + close.len();
    let content = &rest[..i];
    let tag = match content.as_bytes().first() {
        Some(b'!') => Tag::Comment,
        Some(b'#') => Tag::Open {
            name: named(&content[1..])?,
            inverted: false,
        },
        Some(b'^') => Tag::Open {
            name: named(&content[1..])?,
            inverted: true,
        },
        Some(b'/') => Tag::Close(named(&content[1..])?),
        Some(b'>') => Tag::Partial(named(&content[1..])?),
        Some(b'&') => Tag::Variable(named(&content[1..])?),
        _ => Tag::Variable(named(content)?),
    };
    Ok((tag, end))
}

/// When the tag from `start` to `end` is alone on its line (only spaces and tabs around
/// it), the whitespace before it and the offset just past the line's end.
fn standalone(src: &str, start: usize, end: usize) -> Option<(&str, usize)> {
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = &src[line_start..start];
    if !before.bytes().all(|b| b == b' ' || b == b'\t') {
        return None;
    }
    let after = &src[end..];
    let rest = after.trim_start_matches([' ', '\t']);
    let line_break = if rest.is_empty() {
        0
    } else if rest.starts_with('\n') {
        1
    } else if rest.starts_with("\r\n") {
        2
    } else {
        return None;
    };
    Some((before, src.len() - rest.len() + line_break))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of parsing `src`, which must fail.
    fn err(src: &str) -> Error {
        match parse(src) {
            Ok(nodes) => panic!("{src:?} parsed: {nodes:?}"),
            Err(error) => error,
        }
    }

    fn text(s: &str) -> Node {
        Node::Text(s.to_owned())
    }

    fn var(s: &str) -> Node {
        Node::Variable(Name::parse(s))
    }

    #[test]
    fn unclosed_section_points_at_its_opening_tag() {
        let error = err("Hello\n  {{#items}}\n{{name}}\n");
        assert!(
            matches!(&error, Error::UnclosedSection { name, at } if name == "items" && at.line == 2 && at.column == 3)
        );
        assert_eq!(
            error.to_string(),
            "unclosed section `items` opened at line 2, column 3\n    {{#items}}\n    ^"
        );
        // The innermost open section is the one reported.
        let error = err("{{#a}}\n{{^b}}");
        assert!(
            matches!(&error, Error::UnclosedSection { name, at } if name == "b" && at.line == 2)
        );
    }

    #[test]
    fn mismatched_and_unopened_closing_tags() {
        let error = err("{{#a}}\n\tx {{/b}}");
        assert!(
            matches!(&error, Error::MismatchedClose { expected, found, .. } if expected == "a" && found == "b")
        );
        assert_eq!(
            error.to_string(),
            "mismatched closing tag `b` at line 2, column 4: section `a` is open\n  \tx {{/b}}\n  \t  ^"
        );
        let error = err("é {{/a}}");
        assert!(
            matches!(&error, Error::UnopenedSection { name, at } if name == "a" && at.column == 3)
        );
        assert!(error
            .to_string()
            .starts_with("closing tag `a` at line 1, column 3 has no open section"));
    }

    #[test]
    fn unclosed_tags() {
        let error = err("a\nb {{name\n");
        assert!(
            matches!(&error, Error::UnclosedTag { at, close } if at.line == 2 && at.column == 3 && close == "}}")
        );
        assert!(error
            .to_string()
            .starts_with("unclosed tag at line 2, column 3: no closing `}}`"));
        assert!(matches!(err("{{{name}}"), Error::UnclosedTag { close, .. } if close == "}}}"));
        assert!(
            matches!(err("{{=<% %>=}} <%a"), Error::UnclosedTag { at, close } if at.column == 13 && close == "%>")
        );
        assert!(matches!(err("{{! no end"), Error::UnclosedTag { .. }));
    }

    #[test]
    fn invalid_tags() {
        for src in [
            "{{}}", "{{ }}", "{{#}}", "{{/ }}", "{{>}}", "{{{ }}}", "{{&}}",
        ] {
            assert!(matches!(err(src), Error::EmptyName { .. }), "{src}");
        }
        for src in [
            "{{=<%=}}",
            "{{=<% %> x=}}",
            "{{=<% %>}}",
            "{{==}}",
            "{{=a= b=}}",
        ] {
            assert!(matches!(err(src), Error::InvalidDelimiters { .. }), "{src}");
        }
        let error = err("x\n y {{=<%=}}");
        assert!(error
            .to_string()
            .starts_with("invalid set-delimiter tag at line 2, column 4"));
    }

    #[test]
    fn tags_and_padding() {
        let nodes =
            parse("a{{ b }}{{{ c }}}{{& d}}{{! e }}{{#f.g}}{{.}}{{/f.g}}{{^h}}{{/h}}").unwrap();
        assert_eq!(
            nodes,
            vec![
                text("a"),
                var("b"),
                var("c"),
                var("d"),
                Node::Section {
                    name: Name::Path(vec!["f".into(), "g".into()]),
                    inverted: false,
                    children: vec![Node::Variable(Name::Implicit)],
                },
                Node::Section {
                    name: Name::parse("h"),
                    inverted: true,
                    children: vec![],
                },
            ]
        );
        // Closing delimiters alone are text.
        assert_eq!(parse("}} {x}").unwrap(), vec![text("}} {x}")]);
    }

    #[test]
    fn standalone_lines() {
        // A standalone tag takes its indentation and line break with it.
        assert_eq!(
            parse("a\n  {{#s}}  \r\nb\n\t{{/s}}\n").unwrap(),
            vec![
                text("a\n"),
                Node::Section {
                    name: Name::parse("s"),
                    inverted: false,
                    children: vec![text("b\n")],
                },
            ]
        );
        // Two tags on a line, or a variable, are not standalone.
        assert_eq!(parse(" {{!c}}{{!d}}\n").unwrap(), vec![text(" \n")]);
        assert_eq!(
            parse(" {{v}}\n").unwrap(),
            vec![text(" "), var("v"), text("\n")]
        );
        // A standalone partial keeps its indentation; an inline one has none.
        assert_eq!(
            parse("  {{>p}}\n{{>q}}x").unwrap(),
            vec![
                Node::Partial {
                    name: "p".into(),
                    indent: "  ".into(),
                },
                Node::Partial {
                    name: "q".into(),
                    indent: String::new(),
                },
                text("x"),
            ]
        );
        // A multi-line comment alone on its lines.
        assert_eq!(parse("a\n{{!\n x\n}}\nb").unwrap(), vec![text("a\nb")]);
    }
}
