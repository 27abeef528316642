//! The files of `configMap`, `secret` and `downwardAPI` volumes, as pure functions of the
//! objects.
//!
//! Mirrors `pkg/volume/configmap/configmap.go` (`MakePayload`), `pkg/volume/secret`, and
//! `pkg/volume/downwardapi` (`CollectData`, with `fieldpath.FormatMap` for labels and
//! annotations: one `key="value"` line each, sorted). Without `items`, every key becomes a file
//! of its name; with `items`, only those keys, at their paths, each with its own mode or the
//! volume's `defaultMode` (0644).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, DownwardAPIVolumeSource, KeyToPath, Pod, Secret};

use super::atomic_writer::Payload;

pub const DEFAULT_MODE: i32 = 0o644;

fn select(
    data: BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: Option<i32>,
    missing: impl Fn(&str) -> String,
    optional: bool,
) -> Result<Payload, String> {
    let default_mode = default_mode.unwrap_or(DEFAULT_MODE) as u32;
    let Some(items) = items.filter(|i| !i.is_empty()) else {
        return Ok(data.into_iter().map(|(k, v)| (k, (v, default_mode))).collect());
    };
    let mut payload = Payload::new();
    for item in items {
        match data.get(&item.key) {
            Some(value) => {
                let mode = item.mode.map(|m| m as u32).unwrap_or(default_mode);
                payload.insert(item.path.clone(), (value.clone(), mode));
            }
            None if optional => {}
            None => return Err(missing(&item.key)),
        }
    }
    Ok(payload)
}

pub fn config_map_payload(
    map: &ConfigMap,
    items: Option<&Vec<KeyToPath>>,
    default_mode: Option<i32>,
    optional: bool,
) -> Result<Payload, String> {
    let mut data: BTreeMap<String, Vec<u8>> =
        map.data.clone().unwrap_or_default().into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
    for (k, v) in map.binary_data.clone().unwrap_or_default() {
        data.insert(k, v.0);
    }
    select(data, items, default_mode, |k| format!("configmap references non-existent config key: {k}"), optional)
}

pub fn secret_payload(
    secret: &Secret,
    items: Option<&Vec<KeyToPath>>,
    default_mode: Option<i32>,
    optional: bool,
) -> Result<Payload, String> {
    let mut data: BTreeMap<String, Vec<u8>> =
        secret.data.clone().unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
    for (k, v) in secret.string_data.clone().unwrap_or_default() {
        data.entry(k).or_insert_with(|| v.into_bytes());
    }
    select(data, items, default_mode, |k| format!("references non-existent secret key: {k}"), optional)
}

/// `key="value"` lines, sorted by key (values escaped as Go's `%q` would, for the common cases).
pub fn format_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn downward_api_payload(pod: &Pod, source: &DownwardAPIVolumeSource) -> Result<Payload, String> {
    let default_mode = source.default_mode.unwrap_or(DEFAULT_MODE) as u32;
    let meta = &pod.metadata;
    let mut payload = Payload::new();
    for item in source.items.iter().flatten() {
        let mode = item.mode.map(|m| m as u32).unwrap_or(default_mode);
        let Some(field) = &item.field_ref else {
            // resourceFieldRef needs a container; left to env vars in Skiff.
            continue;
        };
        let value = match field.field_path.as_str() {
            "metadata.labels" => format_map(&meta.labels.clone().unwrap_or_default()),
            "metadata.annotations" => format_map(&meta.annotations.clone().unwrap_or_default()),
            "metadata.name" => meta.name.clone().unwrap_or_default(),
            "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
            "metadata.uid" => meta.uid.clone().unwrap_or_default(),
            other => {
                let label = other.strip_prefix("metadata.labels['").and_then(|k| k.strip_suffix("']"));
                let annotation = other.strip_prefix("metadata.annotations['").and_then(|k| k.strip_suffix("']"));
                match (label, annotation) {
                    (Some(key), _) => meta.labels.as_ref().and_then(|l| l.get(key).cloned()).unwrap_or_default(),
                    (_, Some(key)) => meta.annotations.as_ref().and_then(|a| a.get(key).cloned()).unwrap_or_default(),
                    _ => return Err(format!("unsupported fieldPath: {other}")),
                }
            }
        };
        payload.insert(item.path.clone(), (value.into_bytes(), mode));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use serde_json::json;

    use super::*;

    fn map() -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"color": "blue", "mode": "fast"}})).unwrap()
    }

    fn shown(payload: &Payload) -> Vec<String> {
        payload.iter().map(|(p, (c, m))| format!("{p}={} {m:o}", String::from_utf8_lossy(c))).collect()
    }

    #[test]
    fn every_key_becomes_a_file_unless_items_pick_some() {
        assert_eq!(
            shown(&config_map_payload(&map(), None, None, false).unwrap()),
            vec!["color=blue 644", "mode=fast 644"]
        );
        let items: Vec<KeyToPath> = serde_json::from_value(
            json!([{"key": "color", "path": "ui/color", "mode": 0o400}, {"key": "mode", "path": "m"}]),
        )
        .unwrap();
        assert_eq!(
            shown(&config_map_payload(&map(), Some(&items), Some(0o440), false).unwrap()),
            vec!["m=fast 440", "ui/color=blue 400"]
        );
        let missing: Vec<KeyToPath> = serde_json::from_value(json!([{"key": "nope", "path": "x"}])).unwrap();
        assert_eq!(
            config_map_payload(&map(), Some(&missing), None, false).unwrap_err(),
            "configmap references non-existent config key: nope"
        );
        assert!(config_map_payload(&map(), Some(&missing), None, true).unwrap().is_empty());
        let secret = Secret {
            data: Some(BTreeMap::from([("password".to_string(), ByteString(b"s3cret".to_vec()))])),
            ..Default::default()
        };
        assert_eq!(shown(&secret_payload(&secret, None, Some(0o400), false).unwrap()), vec!["password=s3cret 400"]);
    }

    #[test]
    fn downward_api_files_hold_the_pods_metadata() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "labels": {"app": "web", "tier": "front"},
                         "annotations": {"note": "say \"hi\""}},
            "spec": {"containers": []}
        }))
        .unwrap();
        let source: DownwardAPIVolumeSource = serde_json::from_value(json!({"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "app", "fieldRef": {"fieldPath": "metadata.labels['app']"}},
        ]}))
        .unwrap();
        let payload = downward_api_payload(&pod, &source).unwrap();
        assert_eq!(
            shown(&payload),
            vec![
                "annotations=note=\"say \\\"hi\\\"\" 644",
                "app=web 644",
                "labels=app=\"web\"\ntier=\"front\" 644",
                "name=web 644"
            ]
        );
    }
}
