//! The image config, typed: the fields `create` writes are checked when a base image's
//! config is read (a config that is not an object, or whose `rootfs` is not one, is a
//! clear error, not a panic), and every field this code does not know is kept as it was.

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The run settings (Entrypoint, Cmd, Env, Labels, …); `null` reads as empty.
    #[serde(default, deserialize_with = "object_or_null")]
    pub config: Map<String, Value>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default)]
    pub history: Vec<Value>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
            other: Map::new(),
        }
    }
}

fn object_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}

impl ImageConfig {
    pub fn new(os: &str, arch: &str) -> ImageConfig {
        ImageConfig {
            architecture: arch.to_string(),
            os: os.to_string(),
            ..ImageConfig::default()
        }
    }

    /// A base image's config (already parsed as JSON), checked.
    pub fn from_json(value: Value, digest: &str) -> Result<ImageConfig> {
        serde_json::from_value(value)
            .map_err(|e| anyhow!("config {digest} is not an image config: {e}"))
    }

    /// As a JSON value (keys sorted when serialised, as every blob xx writes).
    pub fn to_json(&self) -> Result<Value> {
        Ok(serde_json::to_value(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hostile_shapes_are_errors_and_unknown_fields_stay() {
        for bad in [
            json!([1, 2]),
            json!("x"),
            json!({"rootfs": "layers"}),
            json!({"config": 3}),
        ] {
            assert!(ImageConfig::from_json(bad.clone(), "d").is_err(), "{bad}");
        }
        let c = ImageConfig::from_json(
            json!({"os": "linux", "architecture": "arm64", "config": null, "os.version": "1",
                   "rootfs": {"type": "layers", "diff_ids": ["a"], "x": 1}}),
            "d",
        )
        .unwrap();
        let back = c.to_json().unwrap();
        assert_eq!(back["os.version"], "1");
        assert_eq!(back["rootfs"]["x"], 1);
        assert_eq!(back["config"], json!({}));
    }
}
