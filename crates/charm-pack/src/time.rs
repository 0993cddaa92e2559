//! The one timestamp of an archive: `SOURCE_DATE_EPOCH` (the reproducible-builds convention)
//! when set, else 1980-01-01T00:00:00Z, the earliest time a zip entry can carry. It stamps
//! every zip entry and the manifest's `charmcraft-started-at`.

/// A UTC civil time, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// Year.
    pub year: i64,
    /// Month, 1-12.
    pub month: u8,
    /// Day, 1-31.
    pub day: u8,
    /// Hour, 0-23.
    pub hour: u8,
    /// Minute, 0-59.
    pub minute: u8,
    /// Second, 0-59.
    pub second: u8,
}

/// The zip epoch, 1980-01-01T00:00:00Z, as Unix seconds.
pub const ZIP_EPOCH: i64 = 315_532_800;

impl Utc {
    /// Converts Unix seconds (civil-from-days, H. Hinnant's algorithm).
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        // Every narrowed value is bounded by construction: day 1..=31, month 1..=12,
        // hour < 24, minute < 60, second < 60.
        let narrow = |v: i64| u8::try_from(v).unwrap_or(0);
        Self {
            year,
            month: narrow(month),
            day: narrow(day),
            hour: narrow(rem / 3600),
            minute: narrow(rem % 3600 / 60),
            second: narrow(rem % 60),
        }
    }

    /// ISO 8601 with an explicit UTC offset, as Python's `datetime.isoformat()` writes it.
    pub fn iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// The zip timestamp (clamped to the zip range 1980..=2107; odd seconds round down).
    pub fn zip(&self) -> zip::DateTime {
        let year = u16::try_from(self.year.clamp(1980, 2107)).unwrap_or(1980);
        zip::DateTime::from_date_and_time(
            year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        )
        .unwrap_or_default()
    }
}

/// The archive's timestamp from a `SOURCE_DATE_EPOCH` value (clamped to the zip epoch).
pub fn archive_time(source_date_epoch: Option<&str>) -> Utc {
    let secs = source_date_epoch
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(ZIP_EPOCH)
        .max(ZIP_EPOCH);
    Utc::from_unix(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_known_instants() {
        assert_eq!(archive_time(None).iso8601(), "1980-01-01T00:00:00+00:00");
        assert_eq!(
            Utc::from_unix(1_700_000_000).iso8601(),
            "2023-11-14T22:13:20+00:00"
        );
        assert_eq!(
            Utc::from_unix(951_782_400).iso8601(),
            "2000-02-29T00:00:00+00:00"
        );
        assert_eq!(
            archive_time(Some("5")).iso8601(),
            "1980-01-01T00:00:00+00:00"
        );
        assert_eq!(
            archive_time(Some("1700000000\n")).iso8601(),
            "2023-11-14T22:13:20+00:00"
        );
    }
}
