//! The HTML page at `/`: what a person sees in a browser during a tutorial. Each version has
//! its own colour, so a rolling update or a canary is visible at a glance on reload.

/// The page for one request.
pub fn render(version: &str, hostname: &str, pod_ip: &str) -> String {
    let (version, hostname, pod_ip) = (escape(version), escape(hostname), escape(pod_ip));
    let colour = colour(&version);
    format!(
        r#"<!doctype html>
<html>
<head><meta charset="utf-8"><title>demo-web {version}</title></head>
<body style="font-family: sans-serif; margin: 3em; border-left: 1em solid {colour}; padding-left: 1em">
<h1>demo-web <span style="color: {colour}">{version}</span></h1>
<p>hostname: <b>{hostname}</b></p>
<p>pod IP: <b>{pod_ip}</b></p>
</body>
</html>
"#
    )
}

fn colour(version: &str) -> &'static str {
    match version {
        "v1" => "#1f6feb", // blue
        "v2" => "#2da44e", // green
        "v3" => "#d4670a", // orange
        _ => "#6e7781",
    }
}

/// Hostnames and versions are plain words, but the page must not break if one is not.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_shows_all_three_values_escaped() {
        let page = render("v2", "web<1>", "10.244.0.5");
        assert!(page.contains("demo-web <span style=\"color: #2da44e\">v2</span>"), "{page}");
        assert!(page.contains("<b>web&lt;1&gt;</b>"), "{page}");
        assert!(page.contains("<b>10.244.0.5</b>"), "{page}");
    }
}
