//! Cross-site request forgery protection.
//!
//! jupyter-server-proxy enforces the Jupyter login but "defers to proxied
//! apps" on XSRF, so this backend applies Jupyter's own rule: a
//! state-changing request must echo the `_xsrf` cookie in `X-XSRFToken`.
//! Browsers also label requests from other origins with `Sec-Fetch-Site`;
//! `cross-site` and `same-site` ones are refused outright. `same-site`
//! matters on a hub: with per-user subdomains (`subdomain_host`), another
//! user's server is a different origin of the same site, and a page it
//! serves must not reach this user's panel API.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

pub async fn check(request: Request, next: Next) -> Response {
    if let Err(e) = verify(request.method(), request.headers()) {
        return e.into_response();
    }
    next.run(request).await
}

fn verify(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| matches!(v.as_bytes(), b"cross-site" | b"same-site"))
    {
        return Err(ApiError::forbidden(
            "cross_site",
            "Requests from other sites or other users' servers are not allowed.",
        ));
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "_xsrf")
        .map(|(_, value)| value.to_string());
    let token = headers.get("x-xsrftoken").and_then(|v| v.to_str().ok());
    match (cookie, token) {
        (Some(cookie), Some(token))
            if !cookie.is_empty() && constant_time_eq(cookie.as_bytes(), token.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::forbidden(
            "xsrf",
            "This request needs the X-XSRFToken header matching the _xsrf cookie (reload JupyterLab and try again).",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn state_changes_need_a_matching_token() {
        assert!(verify(&Method::GET, &headers(&[])).is_ok());
        assert!(verify(&Method::DELETE, &headers(&[])).is_err());
        assert!(
            verify(
                &Method::PUT,
                &headers(&[("cookie", "_xsrf=abc"), ("x-xsrftoken", "abd")])
            )
            .is_err()
        );
        assert!(
            verify(
                &Method::PUT,
                &headers(&[("cookie", "a=1; _xsrf=abc"), ("x-xsrftoken", "abc")])
            )
            .is_ok()
        );
        assert!(verify(&Method::GET, &headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(verify(&Method::GET, &headers(&[("sec-fetch-site", "same-site")])).is_err());
        assert!(verify(&Method::GET, &headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(verify(&Method::GET, &headers(&[("sec-fetch-site", "none")])).is_ok());
    }
}
