//! Host names resolved once per run. ureq asks the resolver before every request, even
//! one that goes out on a pooled connection, so a sysroot's forty downloads from one
//! mirror were forty `getaddrinfo` calls; on a network that drops a UDP answer now and
//! then, each is a chance of the C resolver's 5-second wait. One answer per host and
//! port, kept for a minute, and one lookup at a time, so threads that start together
//! wait for the first answer instead of all asking.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long an answer is reused: longer than one command's downloads, short enough
/// that a long push follows a mirror that moves.
const KEEP: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct CachingResolver {
    inner: DefaultResolver,
    answers: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
    asking: Mutex<()>,
}

impl CachingResolver {
    fn fresh(&self, key: &str) -> Option<ResolvedSocketAddrs> {
        let answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        answers
            .get(key)
            .filter(|(at, _)| at.elapsed() < KEEP)
            .map(|(_, addrs)| addrs.clone())
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // The address family asked for is part of the answer.
        let key = format!(
            "{}://{}/{:?}",
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", |a| a.as_str()),
            config.ip_family()
        );
        if let Some(hit) = self.fresh(&key) {
            return Ok(hit);
        }
        let _one_at_a_time = self.asking.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = self.fresh(&key) {
            return Ok(hit);
        }
        // Failures are not kept: the next attempt of a retried request asks again.
        let addrs = self.inner.resolve(uri, config, timeout)?;
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}
