//! `GET pods/{name}/log`: the container's log as plain text, streamed while `follow` holds.
//!
//! Mirrors `pkg/registry/core/pod/rest/log.go`: the options are `PodLogOptions` from the query
//! (`container`, `follow`, `tailLines`, `sinceSeconds`, `timestamps`, `previous`, `limitBytes`);
//! bad values are `400`; the answer is `text/plain`, chunked, flushed as the kubelet sends.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use skiff_api::status::Status;

use super::{locate, LogOptions};
use crate::path::Target;
use crate::{respond, AppState};

fn parse(params: &HashMap<String, String>) -> Result<LogOptions, Status> {
    let flag = |name: &str| params.get(name).is_some_and(|v| v == "true" || v == "1");
    let number = |name: &str| -> Result<Option<i64>, Status> {
        params
            .get(name)
            .map(|v| v.parse::<i64>().map_err(|_| Status::bad_request(format!("{name}: Invalid value: {v:?}: must be an integer"))))
            .transpose()
    };
    let options = LogOptions {
        follow: flag("follow"),
        tail_lines: number("tailLines")?,
        since_seconds: number("sinceSeconds")?,
        timestamps: flag("timestamps"),
        previous: flag("previous"),
        limit_bytes: number("limitBytes")?,
    };
    if options.since_seconds.is_some_and(|s| s < 1) {
        return Err(Status::bad_request("sinceSeconds: Invalid value: must be greater than 0"));
    }
    if options.limit_bytes.is_some_and(|b| b < 1) {
        return Err(Status::bad_request("limitBytes: Invalid value: must be greater than 0"));
    }
    Ok(options)
}

pub async fn serve(state: &AppState, target: &Target, name: &str, params: &HashMap<String, String>) -> Response {
    let options = match parse(params) {
        Ok(options) => options,
        Err(status) => return respond::status(&status),
    };
    let container = params.get("container").map(String::as_str);
    let (node, container) = match locate(&state.verbs, target, name, container, true).await {
        Ok(found) => found,
        Err(status) => return respond::status(&status),
    };
    match state.streams.logs(&node, &container, &options).await {
        Ok(chunks) => {
            // A failure in the middle can only end the stream: the headers are gone already.
            let body = Body::from_stream(chunks.map(|chunk| chunk.map_err(std::io::Error::other)));
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
        }
        Err(status) => respond::status(&status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_options_come_from_the_query_and_bad_ones_are_400() {
        let params: HashMap<String, String> =
            [("follow", "true"), ("tailLines", "10"), ("timestamps", "1")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let options = parse(&params).unwrap();
        assert!(options.follow && options.timestamps && !options.previous);
        assert_eq!(options.tail_lines, Some(10));
        let bad: HashMap<String, String> = [("tailLines".to_string(), "ten".to_string())].into();
        assert_eq!(parse(&bad).unwrap_err().code, 400);
        let zero: HashMap<String, String> = [("sinceSeconds".to_string(), "0".to_string())].into();
        assert_eq!(parse(&zero).unwrap_err().code, 400);
    }
}
