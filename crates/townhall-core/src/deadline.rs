//! Business-hours deadlines: when a case is due for its first reply and for its outcome,
//! counted in an institution's open hours, in its own time zone and skipping its
//! holidays.
//!
//! Business time is real elapsed time while the office is open: a day whose open hours
//! span a daylight-saving change counts the hours the clock actually ran (an
//! `00:00-24:00` day is 23 or 25 hours long then). A local opening or closing time that
//! does not exist (the clock jumped over it) is the instant of the jump; one that occurs
//! twice is its first occurrence.
//!
//! Every computation looks at most [`HORIZON_DAYS`] calendar days ahead, so it takes
//! bounded time whatever the input: a deadline further away than that is [`FAR_FUTURE`].

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{Platform, Priority, named_enum};

/// How many calendar days [`BusinessCalendar::add`] and
/// [`BusinessCalendar::business_time_between`] look ahead: about ten years, far beyond
/// any inbox deadline, and a few milliseconds of work at most.
pub const HORIZON_DAYS: u32 = 3_660;

/// The deadline given when the business time cannot be reached within [`HORIZON_DAYS`]
/// (a huge duration, or a calendar closed for years): 9999-12-31T23:59:59Z, which every
/// store and client can represent and which reads as "never".
pub const FAR_FUTURE: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 0) {
    Some(t) => t,
    None => panic!("9999-12-31 is a valid instant"),
};

/// An unfinished deadline is [`DeadlineState::DueSoon`] when it falls due within this
/// much wall-clock time.
pub const DUE_SOON: Duration = Duration::hours(1);

/// The longest duration a [`DeadlinePolicy`] accepts from the API: the horizon.
pub const MAX_POLICY_SECS: i64 = HORIZON_DAYS as i64 * 86_400;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// When an institution is open: weekly hours in its time zone, minus holidays.
///
/// A closing time of `00:00` means the end of the day (midnight after), so
/// `(00:00, 00:00)` is open all day; on the wire it is written `24:00`. Times are whole
/// minutes. A calendar is open at least once a week (holidays aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CalendarWire", into = "CalendarWire")]
pub struct BusinessCalendar {
    timezone: Tz,
    hours: [Option<(NaiveTime, NaiveTime)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// Why a calendar was refused. Each has a stable code for the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// No day of the week has open hours.
    #[error("the calendar must be open on at least one day of the week")]
    NeverOpen,
    /// A day's hours are malformed, not whole minutes, or close before they open.
    #[error("hours for {day} must be a range like 09:00-17:00 that closes after it opens, got {value:?}")]
    InvalidHours {
        /// `mon` … `sun`.
        day: &'static str,
        /// What was given.
        value: String,
    },
    /// The time zone is not an IANA name such as `America/Santiago`.
    #[error("unknown time zone {0:?}")]
    UnknownTimezone(String),
}

impl CalendarError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CalendarError::NeverOpen => "calendar.never_open",
            CalendarError::InvalidHours { .. } => "calendar.invalid_hours",
            CalendarError::UnknownTimezone(_) => "calendar.unknown_timezone",
        }
    }
}

impl BusinessCalendar {
    /// A calendar from its time zone, its hours Monday to Sunday (`None`: closed) and
    /// its holidays (closed all day).
    pub fn new(
        timezone: Tz,
        hours: [Option<(NaiveTime, NaiveTime)>; 7],
        holidays: BTreeSet<NaiveDate>,
    ) -> Result<BusinessCalendar, CalendarError> {
        let whole_minute = |t: NaiveTime| t.second() == 0 && t.nanosecond() == 0;
        for (day, range) in DAYS.iter().zip(&hours) {
            if let Some((open, close)) = *range
                && !(whole_minute(open) && whole_minute(close) && (close == NaiveTime::MIN || close > open))
            {
                return Err(CalendarError::InvalidHours { day, value: format_range(open, close) });
            }
        }
        if hours.iter().all(Option::is_none) {
            return Err(CalendarError::NeverOpen);
        }
        Ok(BusinessCalendar { timezone, hours, holidays })
    }

    /// Open around the clock every day, in UTC: business time is plain time.
    pub fn always_open() -> BusinessCalendar {
        let all_day = Some((NaiveTime::MIN, NaiveTime::MIN));
        BusinessCalendar { timezone: Tz::UTC, hours: [all_day; 7], holidays: BTreeSet::new() }
    }

    /// Open Monday to Friday from `open` to `close`, without holidays.
    pub fn office(timezone: Tz, open: NaiveTime, close: NaiveTime) -> Result<BusinessCalendar, CalendarError> {
        let day = Some((open, close));
        BusinessCalendar::new(timezone, [day, day, day, day, day, None, None], BTreeSet::new())
    }

    /// The time zone its hours are in.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The first instant of the local day `at` falls in; where a clock change skips
    /// midnight (Santiago in September), the first local time that exists.
    pub fn start_of_day(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let midnight = at.with_timezone(&self.timezone).date_naive().and_time(NaiveTime::MIN);
        (0..=8)
            .find_map(|quarter| {
                self.timezone.from_local_datetime(&(midnight + Duration::minutes(15 * quarter))).earliest()
            })
            .map_or(at, |start| start.with_timezone(&Utc))
    }

    /// Opening and closing time, Monday to Sunday; a closing `00:00` is midnight after.
    pub fn hours(&self) -> &[Option<(NaiveTime, NaiveTime)>; 7] {
        &self.hours
    }

    /// Days closed all day.
    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// The instant at which `business` time of open hours has elapsed after `start`.
    ///
    /// A zero or negative duration gives `start`. When the time cannot be reached within
    /// [`HORIZON_DAYS`] the result is [`FAR_FUTURE`] (or later, for a start that late),
    /// so the result always grows with `business`.
    pub fn add(&self, start: DateTime<Utc>, business: Duration) -> DateTime<Utc> {
        if business <= Duration::zero() {
            return start;
        }
        if self.is_always_open() {
            return start.checked_add_signed(business).unwrap_or(DateTime::<Utc>::MAX_UTC);
        }
        // Beyond anything reached within the horizon (which starts a day before `start`).
        let unreachable = start
            .checked_add_signed(Duration::days(i64::from(HORIZON_DAYS) + 2))
            .map_or(DateTime::<Utc>::MAX_UTC, |end| end.max(FAR_FUTURE));
        if business > Duration::days(i64::from(HORIZON_DAYS) + 2) {
            return unreachable;
        }
        let mut remaining = business;
        for (open, close) in self.open_periods(start) {
            let from = open.max(start);
            if close <= from {
                continue;
            }
            if remaining <= close - from {
                return from + remaining;
            }
            remaining -= close - from;
        }
        unreachable
    }

    /// The open time between `from` and `to` (zero when `to <= from`), counted over at
    /// most [`HORIZON_DAYS`] from `from`.
    pub fn business_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        if self.is_always_open() {
            return to - from;
        }
        let mut total = Duration::zero();
        for (open, close) in self.open_periods(from) {
            if open >= to {
                break;
            }
            let (start, end) = (open.max(from), close.min(to));
            if end > start {
                total += end - start;
            }
        }
        total
    }

    fn is_always_open(&self) -> bool {
        self.holidays.is_empty() && self.hours.iter().all(|h| *h == Some((NaiveTime::MIN, NaiveTime::MIN)))
    }

    /// The open periods of the days from the one before `from`'s local date on, in
    /// order and disjoint, over the horizon.
    fn open_periods(&self, from: DateTime<Utc>) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let first = self.local(from).and_then(|local| local.date().pred_opt());
        first
            .into_iter()
            .flat_map(|first| first.iter_days().take(HORIZON_DAYS as usize))
            .filter_map(|date| self.open_period(date))
    }

    fn open_period(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return None;
        }
        let (open, close) = self.hours[date.weekday().num_days_from_monday() as usize]?;
        let close = if close == NaiveTime::MIN { date.succ_opt()?.and_time(close) } else { date.and_time(close) };
        Some((self.instant(date.and_time(open))?, self.instant(close)?))
    }

    /// The local time of an instant; `None` only at the ends of chrono's range.
    fn local(&self, t: DateTime<Utc>) -> Option<NaiveDateTime> {
        let offset = self.timezone.offset_from_utc_datetime(&t.naive_utc()).fix();
        t.naive_utc().checked_add_offset(offset)
    }

    /// The earliest instant with local time `local`, or the instant the clock jumped
    /// over it.
    fn instant(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.timezone.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
            LocalResult::None => {
                // In a gap: binary search for the first second whose local time is at or
                // after `local`. Offsets stay within ±26 hours, and zones change offset
                // months apart, so local time only rises over that window.
                let at = |secs: i64| DateTime::from_timestamp(secs, 0).and_then(|t| self.local(t));
                let naive = local.and_utc().timestamp();
                let (mut before, mut after) = (naive - 26 * 3600, naive + 26 * 3600);
                while after - before > 1 {
                    let mid = before + (after - before) / 2;
                    if at(mid)? >= local {
                        after = mid;
                    } else {
                        before = mid;
                    }
                }
                DateTime::from_timestamp(after, 0)
            }
        }
    }
}

fn format_range(open: NaiveTime, close: NaiveTime) -> String {
    let close = if close == NaiveTime::MIN { "24:00".to_owned() } else { close.format("%H:%M").to_string() };
    format!("{}-{close}", open.format("%H:%M"))
}

fn parse_range(day: &'static str, text: &str) -> Result<(NaiveTime, NaiveTime), CalendarError> {
    let invalid = || CalendarError::InvalidHours { day, value: text.chars().take(64).collect() };
    let (open, close) = text.split_once('-').ok_or_else(invalid)?;
    let time = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| invalid());
    let close = if close.trim() == "24:00" { NaiveTime::MIN } else { time(close)? };
    Ok((time(open)?, close))
}

/// [`BusinessCalendar`] as the API reads and writes it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarWire {
    timezone: String,
    hours: WeekWire,
    #[serde(default)]
    holidays: BTreeSet<NaiveDate>,
}

/// A missing day is closed, like `null`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeekWire {
    mon: Option<String>,
    tue: Option<String>,
    wed: Option<String>,
    thu: Option<String>,
    fri: Option<String>,
    sat: Option<String>,
    sun: Option<String>,
}

impl TryFrom<CalendarWire> for BusinessCalendar {
    type Error = CalendarError;
    fn try_from(wire: CalendarWire) -> Result<BusinessCalendar, CalendarError> {
        let timezone = wire
            .timezone
            .parse()
            .map_err(|_| CalendarError::UnknownTimezone(wire.timezone.chars().take(64).collect()))?;
        let WeekWire { mon, tue, wed, thu, fri, sat, sun } = wire.hours;
        let mut hours = [None; 7];
        for ((slot, day), text) in hours.iter_mut().zip(DAYS).zip([mon, tue, wed, thu, fri, sat, sun]) {
            *slot = text.map(|text| parse_range(day, &text)).transpose()?;
        }
        BusinessCalendar::new(timezone, hours, wire.holidays)
    }
}

impl From<BusinessCalendar> for CalendarWire {
    fn from(calendar: BusinessCalendar) -> CalendarWire {
        let [mon, tue, wed, thu, fri, sat, sun] =
            calendar.hours.map(|h| h.map(|(open, close)| format_range(open, close)));
        CalendarWire {
            timezone: calendar.timezone.name().to_owned(),
            hours: WeekWire { mon, tue, wed, thu, fri, sat, sun },
            holidays: calendar.holidays,
        }
    }
}

/// How much business time a case of some priority gets, on one platform or on all.
///
/// A zero (or negative) duration sets no deadline of that kind. On the wire the
/// durations are whole seconds, `first_response_secs` and `resolution_secs`, from 0 to
/// [`MAX_POLICY_SECS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyWire", into = "PolicyWire")]
pub struct DeadlinePolicy {
    /// The priority it applies to.
    pub priority: Priority,
    /// The platform it applies to; `None` for all platforms.
    pub platform: Option<Platform>,
    /// Business time until the first reply is due.
    pub first_response: Duration,
    /// Business time until the outcome is due.
    pub resolution: Duration,
}

/// A [`DeadlinePolicy`] duration from the API was negative or too long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be a whole number of seconds from 0 to {MAX_POLICY_SECS}")]
pub struct PolicyError {
    /// The offending field.
    pub field: &'static str,
}

impl PolicyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "deadline.invalid_policy"
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyWire {
    priority: Priority,
    #[serde(default)]
    platform: Option<Platform>,
    first_response_secs: i64,
    resolution_secs: i64,
}

impl TryFrom<PolicyWire> for DeadlinePolicy {
    type Error = PolicyError;
    fn try_from(wire: PolicyWire) -> Result<DeadlinePolicy, PolicyError> {
        let secs = |field, secs: i64| {
            if (0..=MAX_POLICY_SECS).contains(&secs) { Ok(Duration::seconds(secs)) } else { Err(PolicyError { field }) }
        };
        Ok(DeadlinePolicy {
            priority: wire.priority,
            platform: wire.platform,
            first_response: secs("first_response_secs", wire.first_response_secs)?,
            resolution: secs("resolution_secs", wire.resolution_secs)?,
        })
    }
}

impl From<DeadlinePolicy> for PolicyWire {
    fn from(policy: DeadlinePolicy) -> PolicyWire {
        PolicyWire {
            priority: policy.priority,
            platform: policy.platform,
            first_response_secs: policy.first_response.num_seconds(),
            resolution_secs: policy.resolution.num_seconds(),
        }
    }
}

/// The policy for a case: the first naming its priority and platform, else the first
/// naming its priority for all platforms.
pub fn policy_for(policies: &[DeadlinePolicy], priority: Priority, platform: Platform) -> Option<&DeadlinePolicy> {
    let for_priority = || policies.iter().filter(move |p| p.priority == priority);
    for_priority().find(|p| p.platform == Some(platform)).or_else(|| for_priority().find(|p| p.platform.is_none()))
}

/// When a case is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// When the first reply is due.
    pub first_response_due: Option<DateTime<Utc>>,
    /// When the outcome is due.
    pub resolution_due: Option<DateTime<Utc>>,
}

/// The deadlines of a case opened at `opened_at` under `policy` (none without one).
pub fn deadlines(calendar: &BusinessCalendar, policy: Option<&DeadlinePolicy>, opened_at: DateTime<Utc>) -> Deadlines {
    let due = |business: Duration| (business > Duration::zero()).then(|| calendar.add(opened_at, business));
    Deadlines {
        first_response_due: policy.and_then(|p| due(p.first_response)),
        resolution_due: policy.and_then(|p| due(p.resolution)),
    }
}

named_enum! {
    /// Where a case stands against one of its deadlines.
    pub enum DeadlineState as "deadline state" {
        /// Not done, more than [`DUE_SOON`] left.
        OnTime = "on_time",
        /// Not done, due within [`DUE_SOON`].
        DueSoon = "due_soon",
        /// Not done, and past due.
        Breached = "breached",
        /// Done by the deadline.
        Met = "met",
        /// Done, but after the deadline.
        Missed = "missed",
    }
}

/// The state of a deadline `due` for something done at `done_at` (if it was), at `now`;
/// `None` when there is no deadline. "Due soon" is wall-clock time ([`DUE_SOON`]), since
/// it tells staff what to pick up next.
pub fn deadline_state(
    due: Option<DateTime<Utc>>,
    done_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DeadlineState> {
    let due = due?;
    Some(match done_at {
        Some(done) if done <= due => DeadlineState::Met,
        Some(_) => DeadlineState::Missed,
        None if now > due => DeadlineState::Breached,
        None if due - now <= DUE_SOON => DeadlineState::DueSoon,
        None => DeadlineState::OnTime,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn madrid_office() -> BusinessCalendar {
        BusinessCalendar::office(chrono_tz::Europe::Madrid, time(9, 0), time(17, 0)).unwrap()
    }

    #[test]
    fn office_hours_on_a_weekday() {
        let cal = madrid_office();
        // Tuesday 10 March 2026, 10:00 in Madrid (CET, UTC+1).
        assert_eq!(cal.add(utc("2026-03-10T10:00:00+01:00"), Duration::hours(2)), utc("2026-03-10T12:00:00+01:00"));
        // Before opening, the clock starts at 09:00.
        assert_eq!(cal.add(utc("2026-03-10T07:00:00+01:00"), Duration::hours(1)), utc("2026-03-10T10:00:00+01:00"));
        // Exactly a day's hours ends at closing time.
        assert_eq!(cal.add(utc("2026-03-10T09:00:00+01:00"), Duration::hours(8)), utc("2026-03-10T17:00:00+01:00"));
        assert_eq!(
            cal.business_time_between(utc("2026-03-09T00:00:00+01:00"), utc("2026-03-16T00:00:00+01:00")),
            Duration::hours(40)
        );
        assert_eq!(
            cal.business_time_between(utc("2026-03-10T12:00:00Z"), utc("2026-03-10T11:00:00Z")),
            Duration::zero()
        );
    }

    #[test]
    fn friday_afternoon_rolls_to_monday() {
        let cal = madrid_office();
        assert_eq!(cal.add(utc("2026-03-13T16:00:00+01:00"), Duration::hours(2)), utc("2026-03-16T10:00:00+01:00"));
        // Arriving on Saturday counts from Monday's opening.
        assert_eq!(cal.add(utc("2026-03-14T11:00:00+01:00"), Duration::minutes(30)), utc("2026-03-16T09:30:00+01:00"));
    }

    #[test]
    fn holidays_are_closed_all_day() {
        let mut hours = *madrid_office().hours();
        hours[5] = None;
        let holidays = BTreeSet::from([NaiveDate::from_ymd_opt(2026, 3, 16).unwrap()]);
        let cal = BusinessCalendar::new(chrono_tz::Europe::Madrid, hours, holidays).unwrap();
        assert_eq!(cal.add(utc("2026-03-13T16:00:00+01:00"), Duration::hours(2)), utc("2026-03-17T10:00:00+01:00"));
    }

    #[test]
    fn daylight_saving_changes_are_honoured() {
        // Madrid springs forward on Sunday 29 March 2026 (02:00 CET -> 03:00 CEST).
        let cal = madrid_office();
        assert_eq!(cal.add(utc("2026-03-27T16:00:00+01:00"), Duration::hours(2)), utc("2026-03-30T10:00:00+02:00"));
        let all_day = Some((NaiveTime::MIN, NaiveTime::MIN));
        let madrid = BusinessCalendar::new(chrono_tz::Europe::Madrid, [all_day; 7], BTreeSet::new()).unwrap();
        let sunday = (utc("2026-03-29T00:00:00+01:00"), utc("2026-03-30T00:00:00+02:00"));
        assert_eq!(madrid.business_time_between(sunday.0, sunday.1), Duration::hours(23));
        // An office opening at 02:30 that day opens when the clock jumps.
        let mut hours = [None; 7];
        hours[6] = Some((time(2, 30), time(4, 0)));
        let odd = BusinessCalendar::new(chrono_tz::Europe::Madrid, hours, BTreeSet::new()).unwrap();
        assert_eq!(odd.add(utc("2026-03-28T12:00:00Z"), Duration::minutes(10)), utc("2026-03-29T01:10:00Z"));

        // Santiago springs forward at midnight on Sunday 6 September 2026 (00:00 -> 01:00)
        // and falls back at midnight on Sunday 5 April 2026 (Saturday 23:00 happens twice).
        let santiago = chrono_tz::America::Santiago;
        let mut hours = [None; 7];
        hours[6] = Some((NaiveTime::MIN, time(2, 0)));
        let sunday_night = BusinessCalendar::new(santiago, hours, BTreeSet::new()).unwrap();
        let week = |day: &str| (utc(&format!("{day}T12:00:00Z")), utc(&format!("{day}T12:00:00Z")) + Duration::days(7));
        let (from, to) = week("2026-09-05");
        assert_eq!(sunday_night.business_time_between(from, to), Duration::hours(1));
        assert_eq!(sunday_night.add(from, Duration::minutes(30)), utc("2026-09-06T04:30:00Z"));
        hours[6] = None;
        hours[5] = Some((time(23, 0), NaiveTime::MIN));
        let saturday_late = BusinessCalendar::new(santiago, hours, BTreeSet::new()).unwrap();
        let (from, to) = week("2026-04-04");
        assert_eq!(saturday_late.business_time_between(from, to), Duration::hours(2));
        assert_eq!(saturday_late.add(from, Duration::minutes(90)), utc("2026-04-05T03:30:00Z"));
    }

    #[test]
    fn a_day_starts_at_local_midnight_or_when_the_clock_allows() {
        let madrid = madrid_office();
        assert_eq!(madrid.start_of_day(utc("2026-03-27T23:30:00Z")), utc("2026-03-28T00:00:00+01:00"));
        assert_eq!(madrid.start_of_day(utc("2026-07-01T21:59:00Z")), utc("2026-07-01T00:00:00+02:00"));
        let santiago = BusinessCalendar::new(
            chrono_tz::America::Santiago,
            [None, None, None, None, None, None, Some((NaiveTime::MIN, time(2, 0)))],
            BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(
            santiago.start_of_day(utc("2026-09-06T12:00:00Z")),
            utc("2026-09-06T01:00:00-03:00"),
            "midnight is skipped"
        );
        assert_eq!(
            BusinessCalendar::always_open().start_of_day(utc("2026-05-05T17:00:00Z")),
            utc("2026-05-05T00:00:00Z")
        );
    }

    #[test]
    fn always_open_adds_plain_durations() {
        let cal = BusinessCalendar::always_open();
        let start = utc("2026-10-25T01:30:00Z");
        assert_eq!(cal.add(start, Duration::hours(1000)), start + Duration::hours(1000));
        assert_eq!(cal.business_time_between(start, start + Duration::days(3)), Duration::days(3));
        assert_eq!(cal.add(start, Duration::zero()), start);
        assert_eq!(cal.add(start, Duration::hours(-3)), start);
    }

    #[test]
    fn unreachable_deadlines_are_far_future() {
        let mut hours = [None; 7];
        hours[0] = Some((time(9, 0), time(9, 1)));
        let cal = BusinessCalendar::new(Tz::UTC, hours, BTreeSet::new()).unwrap();
        let start = utc("2026-01-01T00:00:00Z");
        assert_eq!(cal.add(start, Duration::days(30)), FAR_FUTURE);
        assert_eq!(cal.add(start, Duration::MAX), FAR_FUTURE);
        let ancient = DateTime::<Utc>::MIN_UTC;
        assert!(cal.add(ancient, Duration::minutes(2)) > ancient);
        assert_eq!(cal.add(DateTime::<Utc>::MAX_UTC, Duration::minutes(2)), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn calendars_are_validated() {
        let closed = [None; 7];
        assert_eq!(BusinessCalendar::new(Tz::UTC, closed, BTreeSet::new()), Err(CalendarError::NeverOpen));
        let err = BusinessCalendar::office(Tz::UTC, time(17, 0), time(9, 0)).unwrap_err();
        assert_eq!((err.code(), err.to_string().contains("17:00-09:00")), ("calendar.invalid_hours", true));
        let odd_seconds = NaiveTime::from_hms_opt(9, 0, 30).unwrap();
        assert!(BusinessCalendar::office(Tz::UTC, odd_seconds, time(17, 0)).is_err());
        assert!(BusinessCalendar::office(Tz::UTC, time(20, 0), NaiveTime::MIN).is_ok());
    }

    #[test]
    fn calendars_round_trip_as_json() {
        let json = serde_json::json!({
            "timezone": "America/Santiago",
            "hours": {
                "mon": "08:30-17:30", "tue": "08:30-17:30", "wed": "08:30-17:30", "thu": "08:30-17:30",
                "fri": "08:30-16:00", "sat": "20:00-24:00", "sun": null
            },
            "holidays": ["2026-09-18", "2026-09-19"]
        });
        let cal: BusinessCalendar = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(cal.timezone(), chrono_tz::America::Santiago);
        assert_eq!(cal.hours()[5], Some((time(20, 0), NaiveTime::MIN)));
        assert_eq!(serde_json::to_value(&cal).unwrap(), json);

        let refused =
            |json: serde_json::Value| serde_json::from_value::<BusinessCalendar>(json).unwrap_err().to_string();
        assert!(
            refused(serde_json::json!({"timezone": "Mars/Olympus", "hours": {"mon": "09:00-17:00"}}))
                .contains("unknown time zone")
        );
        assert!(refused(serde_json::json!({"timezone": "UTC", "hours": {"mon": "9-5"}})).contains("hours for mon"));
        assert!(refused(serde_json::json!({"timezone": "UTC", "hours": {"mon": "17:00-09:00"}})).contains("mon"));
        assert!(refused(serde_json::json!({"timezone": "UTC", "hours": {}})).contains("at least one day"));
        assert!(
            refused(serde_json::json!({"timezone": "UTC", "hours": {"monday": "09:00-17:00"}})).contains("unknown")
        );
    }

    #[test]
    fn policies_and_deadlines() {
        let json = serde_json::json!({
            "priority": "high", "platform": "x", "first_response_secs": 3600, "resolution_secs": 0
        });
        let for_x: DeadlinePolicy = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&for_x).unwrap(), json);
        let bad = serde_json::json!({"priority": "high", "first_response_secs": -1, "resolution_secs": 0});
        assert!(serde_json::from_value::<DeadlinePolicy>(bad).unwrap_err().to_string().contains("first_response_secs"));

        let for_all = DeadlinePolicy {
            priority: Priority::High,
            platform: None,
            first_response: Duration::hours(4),
            resolution: Duration::hours(16),
        };
        let policies = [for_all.clone(), for_x.clone()];
        assert_eq!(policy_for(&policies, Priority::High, Platform::X), Some(&for_x));
        assert_eq!(policy_for(&policies, Priority::High, Platform::Mastodon), Some(&for_all));
        assert_eq!(policy_for(&policies, Priority::Low, Platform::X), None);

        let cal = madrid_office();
        let opened = utc("2026-03-13T16:00:00+01:00");
        let due = deadlines(&cal, Some(&for_all), opened);
        assert_eq!(due.first_response_due, Some(utc("2026-03-16T12:00:00+01:00")));
        assert_eq!(due.resolution_due, Some(utc("2026-03-17T16:00:00+01:00")));
        assert_eq!(deadlines(&cal, Some(&for_x), opened).resolution_due, None);
        assert_eq!(deadlines(&cal, None, opened), Deadlines { first_response_due: None, resolution_due: None });
    }

    #[test]
    fn deadline_states() {
        let due = utc("2026-03-16T12:00:00Z");
        let at = |m: i64| due + Duration::minutes(m);
        assert_eq!(deadline_state(None, None, at(0)), None);
        assert_eq!(deadline_state(Some(due), Some(at(0)), at(500)), Some(DeadlineState::Met));
        assert_eq!(deadline_state(Some(due), Some(at(1)), at(500)), Some(DeadlineState::Missed));
        assert_eq!(deadline_state(Some(due), None, at(1)), Some(DeadlineState::Breached));
        assert_eq!(deadline_state(Some(due), None, at(0)), Some(DeadlineState::DueSoon));
        assert_eq!(deadline_state(Some(due), None, at(-60)), Some(DeadlineState::DueSoon));
        assert_eq!(deadline_state(Some(due), None, at(-61)), Some(DeadlineState::OnTime));
        assert_eq!("due_soon".parse(), Ok(DeadlineState::DueSoon));
    }

    /// Calendars with random whole-minute hours in zones with unusual rules: Santiago
    /// changes at midnight, Lord Howe by 30 minutes, Apia skipped 30 December 2011.
    fn calendar() -> impl Strategy<Value = BusinessCalendar> {
        let zones = [
            Tz::UTC,
            chrono_tz::Europe::Madrid,
            chrono_tz::America::Santiago,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Pacific::Apia,
            chrono_tz::Asia::Kolkata,
        ];
        let day = proptest::option::weighted(0.6, (0u32..1440, 1u32..=1440)).prop_map(|range| {
            range.map(|(open, len)| {
                let close = (open + len).min(1440);
                let minute = |m: u32| time(m / 60 % 24, m % 60);
                (minute(open), minute(close))
            })
        });
        let holidays = proptest::collection::btree_set(0i64..60, 0..10);
        (proptest::sample::select(zones.to_vec()), proptest::array::uniform7(day), holidays).prop_filter_map(
            "never open",
            |(tz, hours, holidays)| {
                let base = NaiveDate::from_ymd_opt(2011, 12, 1).unwrap();
                let holidays = holidays.into_iter().map(|d| base + Duration::days(d * 53 % 9000)).collect();
                BusinessCalendar::new(tz, hours, holidays).ok()
            },
        )
    }

    fn weekly_minutes(cal: &BusinessCalendar) -> i64 {
        let minutes = |t: NaiveTime| i64::from(t.hour() * 60 + t.minute());
        cal.hours()
            .iter()
            .flatten()
            .map(|&(o, c)| if c == NaiveTime::MIN { 1440 } else { minutes(c) } - minutes(o))
            .sum()
    }

    proptest! {
        #[test]
        fn add_and_between_agree(
            cal in calendar(),
            start in 1_300_000_000i64..1_900_000_000,
            fractions in (0u32..=1000, 0u32..=1000),
        ) {
            let start = DateTime::from_timestamp(start, 0).unwrap();
            // Up to ten weeks of this calendar's open time.
            let weekly = weekly_minutes(&cal) * 60;
            let (d1, d2) = (fractions.0.min(fractions.1), fractions.0.max(fractions.1));
            let d1 = Duration::seconds(weekly * 10 * i64::from(d1) / 1000);
            let d2 = Duration::seconds(weekly * 10 * i64::from(d2) / 1000);
            let (end1, end2) = (cal.add(start, d1), cal.add(start, d2));
            prop_assert!(start <= end1 && end1 <= end2, "{start} + {d1} = {end1}, + {d2} = {end2}");
            if end2 < FAR_FUTURE {
                prop_assert_eq!(cal.business_time_between(start, end1), d1);
                prop_assert_eq!(cal.business_time_between(start, end2), d2);
            }
        }

        #[test]
        fn add_and_between_are_total(
            cal in calendar(),
            start in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            business in any::<i64>(),
        ) {
            let start = DateTime::from_timestamp(start, 0).unwrap();
            let business = Duration::try_milliseconds(business).unwrap_or(Duration::MAX);
            let end = cal.add(start, business);
            prop_assert!(end >= start);
            prop_assert!(cal.business_time_between(start, end) >= Duration::zero());
        }
    }
}
