//! TEMP stand-in: the LetsFlow JMESPath dialect (replaced at merge).
#![allow(missing_docs, dead_code, unused_variables)]
use serde_json::Value;
#[derive(Debug, thiserror::Error)]
#[error("jmespath stand-in")]
pub struct Error;
#[derive(Debug, Clone)]
pub struct Expression(String);
impl Expression {
    pub fn parse(src: &str) -> Result<Expression, Error> {
        Ok(Expression(src.to_string()))
    }
    pub fn source(&self) -> &str {
        &self.0
    }
    pub fn search(&self, data: &Value, env: &Env<'_>) -> Result<Value, Error> {
        Err(Error)
    }
}
pub struct Env<'a> {
    pub runtime: &'a Runtime,
    pub entropy: Option<&'a Entropy>,
}
impl<'a> Env<'a> {
    pub fn new(runtime: &'a Runtime) -> Self {
        Env {
            runtime,
            entropy: None,
        }
    }
    pub fn with_entropy(self, e: &'a Entropy) -> Self {
        Env {
            entropy: Some(e),
            ..self
        }
    }
}
pub struct Runtime;
impl Runtime {
    pub fn new() -> Self {
        Runtime
    }
    pub fn global() -> &'static Runtime {
        static R: Runtime = Runtime;
        &R
    }
}
pub struct Entropy([u8; 32]);
impl Entropy {
    pub fn new(seed: [u8; 32]) -> Self {
        Entropy(seed)
    }
}
