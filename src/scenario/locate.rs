//! Where a value of a YAML document is written: JSON pointer → line and column of its key
//! (or of the `-` of a sequence item), so that validation errors and warnings of a YAML
//! file point at the text as syntax errors do.
//!
//! This reads the block structure of the text (indentation, `key:`, `- `), which is how
//! scenarios are written; inside a flow collection (`{a: 1}`, `[a, b]`) and for keys that
//! a merge key (`<<`) brings in, the position of the nearest enclosing key is used.

use super::Position;
use std::collections::HashMap;

/// The positions of the keys and sequence items of a YAML text, by JSON pointer.
#[derive(Debug, Default, Clone)]
pub struct Locations(HashMap<String, Position>);

/// A mapping or sequence being read: the column of its keys or dashes, its pointer, the
/// pointer of its last entry (the parent of more deeply indented lines) and, for a
/// sequence, the number of items so far.
struct Frame {
    column: usize,
    pointer: String,
    last: Option<String>,
    sequence: bool,
    items: usize,
}

impl Locations {
    /// Reads the block structure of `text`.
    pub fn of_yaml(text: &str) -> Locations {
        let mut found = HashMap::new();
        let mut frames: Vec<Frame> = Vec::new();
        // A block scalar (`|`, `>`) runs while lines are indented deeper than its key's
        // column.
        let mut block_scalar: Option<usize> = None;
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start_matches(' ');
            let indent = line.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(column) = block_scalar {
                if indent > column {
                    continue;
                }
                block_scalar = None;
            }
            if trimmed.starts_with("---") || trimmed.starts_with("...") {
                frames.clear();
                continue;
            }
            let mut column = indent;
            let mut rest = trimmed;
            loop {
                let dash = rest == "-" || rest.starts_with("- ");
                enter(&mut frames, column, dash);
                let Some(frame) = frames.last_mut() else {
                    break;
                };
                if dash {
                    let pointer = format!("{}/{}", frame.pointer, frame.items);
                    frame.items += 1;
                    frame.last = Some(pointer.clone());
                    found.insert(pointer.clone(), position(index, column));
                    let after = rest[1..].trim_start_matches(' ');
                    column += rest.len() - after.len();
                    rest = after;
                    if rest.is_empty() || rest.starts_with('#') {
                        break;
                    }
                    // The item's own content starts a frame at its column.
                    frames.push(Frame {
                        column,
                        pointer,
                        last: None,
                        sequence: false,
                        items: 0,
                    });
                    continue;
                }
                if let Some((key, value)) = split_key(rest) {
                    let pointer = format!("{}/{}", frame.pointer, escape(&key));
                    frame.last = Some(pointer.clone());
                    found.insert(pointer, position(index, column));
                    let value = value.trim_start_matches(' ');
                    if value.starts_with('|') || value.starts_with('>') {
                        // Its lines are indented deeper than the key.
                        block_scalar = Some(column);
                    }
                }
                break;
            }
        }
        Locations(found)
    }

    /// The position of the value at `pointer`, else of its nearest ancestor that has one.
    pub fn find(&self, pointer: &str) -> Option<Position> {
        let mut pointer = pointer;
        loop {
            if let Some(position) = self.0.get(pointer) {
                return Some(*position);
            }
            pointer = &pointer[..pointer.rfind('/')?];
        }
    }
}

/// Makes the frame for a line's entry at `column` the innermost one; a dash at the column
/// of a mapping key opens that key's sequence.
fn enter(frames: &mut Vec<Frame>, column: usize, dash: bool) {
    while frames.last().is_some_and(|f| f.column > column) {
        frames.pop();
    }
    if let Some(top) = frames.last() {
        if top.column == column {
            if top.sequence == dash {
                return;
            }
            if top.sequence {
                // A key at the column of a compact sequence (`key:\n- a`) ends it.
                frames.pop();
                return enter(frames, column, dash);
            }
            // `key:\n- item`: the sequence of the mapping's last key, at the same column.
            let pointer = top.last.clone().unwrap_or_else(|| top.pointer.clone());
            frames.push(Frame {
                column,
                pointer,
                last: None,
                sequence: true,
                items: 0,
            });
            return;
        }
    }
    let pointer = match frames.last() {
        Some(top) => top.last.clone().unwrap_or_else(|| top.pointer.clone()),
        None => String::new(),
    };
    frames.push(Frame {
        column,
        pointer,
        last: None,
        sequence: dash,
        items: 0,
    });
}

fn position(index: usize, column: usize) -> Position {
    Position {
        line: index + 1,
        column: column + 1,
    }
}

/// `key: value` (or `key:` at the end of the line), with a plain or quoted key.
fn split_key(text: &str) -> Option<(String, &str)> {
    let (key, rest) = match text.chars().next()? {
        quote @ ('"' | '\'') => {
            let end = text[1..].find(quote)? + 1;
            (text[1..end].to_string(), &text[end + 1..])
        }
        '{' | '[' | '?' | '!' | '&' | '*' => return None,
        _ => {
            let end = text
                .match_indices(':')
                .map(|(i, _)| i)
                .find(|&i| text[i + 1..].is_empty() || text[i + 1..].starts_with(' '))?;
            (text[..end].trim_end().to_string(), &text[end..])
        }
    };
    let value = rest.trim_start_matches(' ').strip_prefix(':')?;
    (value.is_empty() || value.starts_with(' ')).then_some((key, value))
}

/// A key as a JSON pointer segment.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(locations: &Locations, pointer: &str) -> (usize, usize) {
        let p = locations.find(pointer).expect(pointer);
        (p.line, p.column)
    }

    #[test]
    fn keys_and_items_are_located() {
        let text = "\
name: x   # a comment
actions:
  submit:
    actr: employee
    description: |
      not: a key
states:
  initial:
    transitions:
      - on: go
        goto: next
      -   on: other
          log:
            description: >
              folded
          goto: (done)
      - log: |
          literal
        goto: (x)
  next:
    transitions:
    - on: back
      by: [a, b]
    - after: 5
  '(done)': {}
  \"*\":
    title: any
";
        let l = Locations::of_yaml(text);
        assert_eq!(at(&l, "/name"), (1, 1));
        assert_eq!(at(&l, "/actions/submit/actr"), (4, 5));
        assert_eq!(at(&l, "/actions/submit/description"), (5, 5));
        assert!(!l.0.contains_key("/actions/submit/not"));
        assert_eq!(at(&l, "/states"), (7, 1));
        assert_eq!(at(&l, "/states/initial/transitions/0"), (10, 7));
        assert_eq!(at(&l, "/states/initial/transitions/0/on"), (10, 9));
        assert_eq!(at(&l, "/states/initial/transitions/0/goto"), (11, 9));
        assert_eq!(at(&l, "/states/initial/transitions/1/on"), (12, 11));
        assert_eq!(
            at(&l, "/states/initial/transitions/1/log/description"),
            (14, 13)
        );
        assert_eq!(at(&l, "/states/initial/transitions/1/goto"), (16, 11));
        // After a block scalar on the line of a dash, the item's next key.
        assert_eq!(at(&l, "/states/initial/transitions/2/log"), (17, 9));
        assert_eq!(at(&l, "/states/initial/transitions/2/goto"), (19, 9));
        assert_eq!(at(&l, "/states/next"), (20, 3));
        assert_eq!(at(&l, "/states/next/transitions/0/by"), (23, 7));
        assert_eq!(at(&l, "/states/next/transitions/1/after"), (24, 7));
        assert_eq!(at(&l, "/states/(done)"), (25, 3));
        assert_eq!(at(&l, "/states/*/title"), (27, 5));
        // Inside a flow collection: the nearest key.
        assert_eq!(at(&l, "/states/next/transitions/0/by/1"), (23, 7));
        assert_eq!(l.find("/nowhere"), None);
    }
}
