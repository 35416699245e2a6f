//! Instants, kept in UTC with microsecond precision (what both stores keep).

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// An instant in UTC, truncated to whole microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

/// A value that cannot be a [`Timestamp`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Out of the representable range.
    #[error("timestamp out of range")]
    OutOfRange,
    /// Not an RFC 3339 date-time.
    #[error("`{0}` is not an RFC 3339 date-time")]
    Malformed(String),
}

impl Timestamp {
    /// Builds a timestamp from microseconds since the Unix epoch.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] outside years -9999..=9999.
    pub fn from_unix_micros(micros: i64) -> Result<Self, TimestampError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
            .map(Self)
            .map_err(|_| TimestampError::OutOfRange)
    }

    /// Wraps a date-time read from a clock or a store, truncating it to microseconds.
    #[must_use]
    pub fn from_offset(at: OffsetDateTime) -> Self {
        let at = at.to_offset(UtcOffset::UTC);
        let micros = at.microsecond();
        Self(at.replace_microsecond(micros).unwrap_or(at))
    }

    /// Parses an RFC 3339 date-time.
    ///
    /// # Errors
    /// [`TimestampError::Malformed`] when `raw` is not RFC 3339.
    pub fn parse_rfc3339(raw: &str) -> Result<Self, TimestampError> {
        OffsetDateTime::parse(raw, &Rfc3339)
            .map(Self::from_offset)
            .map_err(|_| TimestampError::Malformed(raw.to_owned()))
    }

    /// Microseconds since the Unix epoch.
    #[must_use]
    pub fn unix_micros(self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
    }

    /// Whole seconds since the Unix epoch (the JWT `NumericDate`).
    #[must_use]
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The UTC date-time without offset, as SQL `timestamp` columns keep it.
    #[must_use]
    pub fn as_primitive(self) -> PrimitiveDateTime {
        PrimitiveDateTime::new(self.0.date(), self.0.time())
    }

    /// Reads a UTC date-time without offset, as SQL `timestamp` columns keep it.
    #[must_use]
    pub fn from_primitive(at: PrimitiveDateTime) -> Self {
        Self::from_offset(at.assume_utc())
    }

    /// This instant plus `seconds` (saturating at the representable range).
    #[must_use]
    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(Duration::seconds(seconds)))
    }

    /// This instant plus `micros` microseconds (saturating at the representable range).
    #[must_use]
    pub fn plus_micros(self, micros: i64) -> Self {
        Self(self.0.saturating_add(Duration::microseconds(micros)))
    }

    /// RFC 3339 in UTC with a `Z` suffix and no fractional seconds when they are zero.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let whole = self.0.replace_nanosecond(0).unwrap_or(self.0);
        let text = if whole == self.0 {
            whole.format(&Rfc3339)
        } else {
            self.0.format(&Rfc3339)
        };
        text.unwrap_or_else(|_| self.0.unix_timestamp().to_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_seconds_without_fraction_and_with_z() {
        let at = Timestamp::from_unix_micros(1_768_473_000_000_000).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-01-15T10:30:00Z");
    }

    #[test]
    fn keeps_microseconds_through_primitive_round_trip() {
        let at = Timestamp::from_unix_micros(1_768_473_000_123_456).unwrap();
        assert_eq!(Timestamp::from_primitive(at.as_primitive()), at);
        assert_eq!(at.to_rfc3339(), "2026-01-15T10:30:00.123456Z");
    }

    #[test]
    fn parses_offsets_into_utc() {
        let at = Timestamp::parse_rfc3339("2026-01-15T12:30:00+02:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-01-15T10:30:00Z");
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }
}
