//! Text formats other than YAML come from templates in `assets/`, rendered with
//! minijinja. Each renderer passes its template's source (`include_str!`), so the
//! templates are compiled into the binary; each is parsed once per process.

use std::sync::{Mutex, OnceLock};

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

fn environment() -> &'static Mutex<Environment<'static>> {
    static ENV: OnceLock<Mutex<Environment<'static>>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        Mutex::new(env)
    })
}

/// Renders the template `name` (its path under `assets/`), whose text is `source`,
/// with `context`. Undefined variables are errors, so a misspelt field never renders
/// as an empty string; a bundled template that fails is a bug, hence the panic.
pub fn render_template(
    name: &'static str,
    source: &'static str,
    context: impl Serialize,
) -> String {
    let mut env = environment().lock().unwrap_or_else(|e| e.into_inner());
    if env.get_template(name).is_err() {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("bundled template {name} does not compile: {e:#}"));
    }
    env.get_template(name)
        .and_then(|t| t.render(minijinja::value::Serde(context)))
        .unwrap_or_else(|e| panic!("bundled template {name} failed to render: {e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_about_undefined_values() {
        let out = render_template(
            "test/a",
            "x={{ x }}\n{% for i in items %}{{ i }}\n{% endfor %}",
            minijinja::context! { x => 1, items => [1, 2] },
        );
        assert_eq!(out, "x=1\n1\n2\n");
        let result = std::panic::catch_unwind(|| {
            render_template("test/b", "{{ missing }}", minijinja::context! {})
        });
        assert!(result.is_err());
    }
}
