//! Rendering through the public API: the LetsFlow differences from the spec and the
//! limits.

use serde_json::{json, Map, Value};

use super::{render, Error, Template, MAX_NESTING, MAX_PARTIAL_DEPTH};

/// Renders `src` with `view` and no partials.
fn r(src: &str, view: Value) -> String {
    render(src, &view, &Map::new()).unwrap()
}

/// Renders `src` with `view` and the partials in the object `partials`.
fn rp(src: &str, view: Value, partials: Value) -> Result<String, Error> {
    let Value::Object(partials) = partials else {
        panic!("partials must be an object")
    };
    render(src, &view, &partials)
}

#[test]
fn never_escapes_html() {
    let view = json!({"x": "<b>\"Tom\" & 'Jerry'</b>"});
    let raw = "<b>\"Tom\" & 'Jerry'</b>";
    assert_eq!(r("{{x}}", view.clone()), raw);
    assert_eq!(r("{{{x}}}", view.clone()), raw);
    assert_eq!(r("{{& x}}", view.clone()), raw);
    assert_eq!(r("{{#x}}{{.}}{{/x}}", view), raw);
}

#[test]
fn writes_values_as_javascript_does() {
    let view = json!({
        "int": 1, "float": 1.5, "whole": 2.0, "neg": -0.25, "big": 1e21, "small": 1e-7,
        "t": true, "f": false, "null": null,
        "list": [1, "a", null, [2, 3], true], "obj": {"a": 1}, "objs": [{}, {}],
    });
    assert_eq!(
        r("{{int}} {{float}} {{whole}} {{neg}}", view.clone()),
        "1 1.5 2 -0.25"
    );
    assert_eq!(r("{{big}} {{small}}", view.clone()), "1e+21 1e-7");
    assert_eq!(
        r("{{t}} {{f}} [{{null}}] [{{missing}}]", view.clone()),
        "true false [] []"
    );
    assert_eq!(r("{{list}}", view.clone()), "1,a,,2,3,true");
    assert_eq!(
        r("{{obj}} {{objs}}", view),
        "[object Object] [object Object],[object Object]"
    );
}

#[test]
fn dotted_names_resolve_through_the_context_stack() {
    let view = json!({
        "user": {"name": "Ann", "address": {"city": "Oslo"}},
        "items": [{"id": 1}, {"id": 2, "user": {"name": "Bob"}}],
    });
    assert_eq!(r("{{user.address.city}}", view.clone()), "Oslo");
    // The first part is found on the stack, from the top down.
    assert_eq!(
        r("{{#items}}{{id}}:{{user.name}} {{/items}}", view.clone()),
        "1:Ann 2:Bob "
    );
    // The other parts only inside what the first part found: no fall back to the view.
    assert_eq!(
        r(
            "{{#user}}{{address.name}}|{{address.city}}{{/user}}",
            view.clone()
        ),
        "|Oslo"
    );
    assert_eq!(r("{{user.nope.name}}|{{nope.name}}", view.clone()), "|");
    // A key present with `null` stops the search.
    assert_eq!(
        r(
            "{{#a}}[{{b}}]{{/a}}",
            json!({"a": {"b": null}, "b": "outer"})
        ),
        "[]"
    );
    // JavaScript properties of lists and strings.
    assert_eq!(
        r("{{items.length}} {{items.1.id}} {{user.name.length}}", view),
        "2 2 3"
    );
    assert_eq!(r("{{a.01}}{{a.5}}{{a.-1}}", json!({"a": [1, 2]})), "");
}

#[test]
fn sections_iterate_arrays_of_objects() {
    let view = json!({
        "title": "T",
        "rows": [{"k": "a", "v": 1}, {"k": "b", "v": [1, 2]}, {"k": "c"}],
    });
    assert_eq!(
        r("{{#rows}}{{title}}.{{k}}={{v}};{{/rows}}", view),
        "T.a=1;T.b=1,2;T.c=;"
    );
    // Nested lists, the implicit iterator and a list as the view.
    assert_eq!(
        r("{{#.}}({{#.}}{{.}}{{/.}}){{/.}}", json!([[1, 2], ["x"]])),
        "(12)(x)"
    );
    // An object is pushed; a string or number too; `true` keeps the current context.
    assert_eq!(r("{{#o}}{{a}}{{/o}}", json!({"o": {"a": "A"}})), "A");
    assert_eq!(r("{{#s}}{{.}}!{{/s}}", json!({"s": "hi"})), "hi!");
    assert_eq!(r("{{#n}}{{.}}!{{/n}}", json!({"n": 7})), "7!");
    assert_eq!(
        r("{{#t}}{{.}}{{/t}}", json!({"t": true, "a": 1})),
        "[object Object]"
    );
}

#[test]
fn inverted_sections_render_when_falsy() {
    let view = json!({"list": [], "full": [1], "no": false, "yes": true});
    assert_eq!(r("{{^list}}empty{{/list}}", view.clone()), "empty");
    assert_eq!(r("{{^full}}empty{{/full}}", view.clone()), "");
    assert_eq!(r("{{^no}}no{{/no}}{{^yes}}yes{{/yes}}", view.clone()), "no");
    assert_eq!(
        r("{{^missing.deep}}gone{{/missing.deep}}", view.clone()),
        "gone"
    );
    // The body renders in the current context.
    assert_eq!(r("{{^no}}{{full}}{{/no}}", view), "1");
}

#[test]
fn falsy_values_follow_mustache_js() {
    for falsy in [
        json!(false),
        json!(null),
        json!(0),
        json!(0.0),
        json!(""),
        json!([]),
    ] {
        let view = json!({ "v": falsy });
        assert_eq!(r("{{#v}}T{{/v}}{{^v}}F{{/v}}", view), "F", "{falsy}");
    }
    assert_eq!(r("{{#v}}T{{/v}}{{^v}}F{{/v}}", json!({})), "F");
    for truthy in [
        json!(true),
        json!(1),
        json!(-0.5),
        json!("0"),
        json!(" "),
        json!({}),
        json!([0]),
    ] {
        let view = json!({ "v": truthy });
        assert_eq!(r("{{#v}}T{{/v}}{{^v}}F{{/v}}", view), "T", "{truthy}");
    }
}

#[test]
fn set_delimiters() {
    let view = json!({"a": "A", "list": [1, 2]});
    assert_eq!(
        r("{{=<% %>=}}<% a %>{{a}}<%={{ }}=%>{{a}}", view.clone()),
        "A{{a}}A"
    );
    assert_eq!(r("{{= | | =}}|#list||.||/list|", view.clone()), "12");
    // Triple mustaches with other delimiters close with `}` and the delimiter.
    assert_eq!(r("{{=[ ]=}}[{a}][&a]", view.clone()), "AA");
    // A standalone set-delimiter tag takes its line.
    assert_eq!(r("x\n  {{=<< >>=}}  \n<<a>>\n", view), "x\nA\n");
}

#[test]
fn standalone_partials_indent_every_line() {
    let partials = json!({
        "item": "- {{name}}\n{{#tags}}\n  #{{.}}\n{{/tags}}\n",
        "nested": "begin\n  {{>item}}\nend",
    });
    let view = json!({"name": "a\nb", "tags": ["x", "y"]});
    assert_eq!(
        rp("list:\n  {{>item}}\ndone\n", view.clone(), partials.clone()).unwrap(),
        // The interpolated `a\nb` is not indented; the partial's own lines are.
        "list:\n  - a\nb\n    #x\n    #y\ndone\n"
    );
    assert_eq!(
        rp("\t{{>nested}}\n", view.clone(), partials.clone()).unwrap(),
        "\tbegin\n\t  - a\nb\n\t    #x\n\t    #y\n\tend"
    );
    // Inline partial tags are not indented.
    assert_eq!(
        rp("> {{>item}}", json!({"name": "n"}), partials).unwrap(),
        "> - n\n"
    );
}

#[test]
fn missing_and_non_string_partials_render_nothing() {
    let partials = json!({"num": 5, "null": null});
    assert_eq!(
        rp(
            "[{{>none}}][{{>num}}][{{>null}}]",
            json!({}),
            partials.clone()
        )
        .unwrap(),
        "[][][]"
    );
    // A standalone missing partial still takes its line.
    assert_eq!(
        rp("a\n  {{>none}}\nb", json!({}), partials).unwrap(),
        "a\nb"
    );
}

#[test]
fn recursive_partials_are_bounded() {
    let partials = json!({"node": "{{name}}({{#kids}}{{>node}}{{/kids}})"});
    // Leaves need their own empty `kids`: a missing one is found further down the stack.
    let leaf = |name: &str| json!({"name": name, "kids": []});
    let tree = json!({"name": "r", "kids": [{"name": "a", "kids": [leaf("b")]}, leaf("c")]});
    assert_eq!(rp("{{>node}}", tree, partials).unwrap(), "r(a(b())c())");

    let endless = json!({"loop": "x{{>loop}}"});
    match rp("{{>loop}}", json!({}), endless) {
        Err(Error::PartialDepth { name, limit }) => {
            assert_eq!((name.as_str(), limit), ("loop", MAX_PARTIAL_DEPTH));
        }
        other => panic!("expected PartialDepth, got {other:?}"),
    }
}

#[test]
fn bad_partial_source_is_an_error_naming_the_partial() {
    let partials = json!({"p": "ok\n{{#open}}"});
    let error = rp("{{>p}}", json!({}), partials).unwrap_err();
    let Error::Partial { name, error: inner } = &error else {
        panic!("expected a partial error, got {error:?}")
    };
    assert_eq!(name, "p");
    assert!(
        matches!(**inner, Error::UnclosedSection { ref at, .. } if at.line == 2 && at.column == 1)
    );
    assert!(error
        .to_string()
        .starts_with("in partial `p`: unclosed section `open` opened at line 2, column 1"));
}

#[test]
fn nesting_is_bounded_before_the_stack_overflows() {
    // These run on a test thread's 2 MiB stack, in debug builds too.
    let nested = |n: usize| format!("{}x{}", "{{#a}}".repeat(n), "{{/a}}".repeat(n));
    let view = json!({"a": {"a": true}});
    assert_eq!(r(&nested(MAX_NESTING), view.clone()), "x");
    match Template::parse(&format!("\n  {}", nested(MAX_NESTING + 1))) {
        Err(Error::TooDeep { limit, at }) => {
            assert_eq!(
                (limit, at.line, at.column),
                (MAX_NESTING, 2, 3 + 6 * MAX_NESTING)
            );
        }
        other => panic!("expected TooDeep, got {other:?}"),
    }

    // A tree as deep as the partial limit allows: a partial and a section per level.
    let mut tree = json!({"n": 99, "kids": []});
    for n in (0..99).rev() {
        tree = json!({"n": n, "kids": [tree]});
    }
    let partials = json!({"node": "{{n}}{{#kids}}.{{>node}}{{/kids}}"});
    let text = rp("{{>node}}", tree, partials).unwrap();
    assert!(
        text.starts_with("0.1.2.") && text.ends_with(".98.99"),
        "{text}"
    );

    // Sections inside recursive partials stop at the overall limit.
    let partials = json!({"p": "{{#a}}{{#a}}{{#a}}{{>p}}{{/a}}{{/a}}{{/a}}"});
    let error = rp("{{>p}}", view, partials).unwrap_err();
    assert_eq!(error, Error::NestingTooDeep { limit: MAX_NESTING });
}

#[test]
fn a_template_renders_many_times() {
    let template = Template::parse("{{#xs}}{{.}}{{/xs}}").unwrap();
    let copy = template.clone();
    let none = Map::new();
    assert_eq!(
        template.render(&json!({"xs": [1, 2]}), &none).unwrap(),
        "12"
    );
    assert_eq!(copy.render(&json!({"xs": "s"}), &none).unwrap(), "s");
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&template);
}
