/// The EXT-X-PROGRAM-DATE-TIME value, RFC 8216 §4.3.2.6: an ISO 8601 / RFC 3339 date-time,
/// rendered here as UTC with milliseconds. Proleptic Gregorian calendar arithmetic (days from
/// civil and back, after H. Hinnant's public-domain algorithms), so no Foundation is needed.
///
/// ```
/// 2026-11-29T08:20:06.123Z          rendered
/// YYYY-MM-DDThh:mm:ss[.f+](Z|±hh:mm|±hhmm)   parsed
/// ```
public enum ProgramDateTime {
    private static let millisecondsPerDay: Int64 = 86_400_000

    /// Formats milliseconds since the Unix epoch as `YYYY-MM-DDThh:mm:ss.sssZ`.
    public static func format(millisecondsSinceEpoch: Int64) -> String {
        let (days, timeOfDay) = floorDivision(millisecondsSinceEpoch, millisecondsPerDay)
        let (year, month, day) = civil(fromDays: days)
        let hour = timeOfDay / 3_600_000
        let minute = timeOfDay / 60_000 % 60
        let second = timeOfDay / 1000 % 60
        let millisecond = timeOfDay % 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(millisecond, 3))Z"
    }

    /// Parses a date-time into milliseconds since the Unix epoch (fractions beyond milliseconds are
    /// truncated); nil when it is not a valid date-time with a time zone.
    public static func parse(_ text: Substring) -> Int64? {
        let chars = Array(text.utf8)
        guard chars.count >= 20, chars.count <= 64 else { return nil }
        func number(_ start: Int, _ length: Int) -> Int64? {
            var value: Int64 = 0
            for char in chars[start..<start + length] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(char) else { return nil }
                value = value * 10 + Int64(char - UInt8(ascii: "0"))
            }
            return value
        }
        func at(_ index: Int, _ char: Character) -> Bool { chars[index] == char.asciiValue }
        guard let year = number(0, 4), at(4, "-"), let month = number(5, 2), at(7, "-"), let day = number(8, 2),
            at(10, "T") || at(10, "t"), let hour = number(11, 2), at(13, ":"), let minute = number(14, 2),
            at(16, ":"), let second = number(17, 2),
            (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        var millisecond: Int64 = 0
        if at(index, ".") {
            index += 1
            var scale: Int64 = 100
            let fractionStart = index
            while index < chars.count, let digit = number(index, 1) {
                millisecond += digit * scale
                scale /= 10
                index += 1
            }
            guard index > fractionStart else { return nil }
        }
        guard index < chars.count else { return nil }
        var offsetMinutes: Int64 = 0
        if at(index, "Z") || at(index, "z") {
            index += 1
        } else if at(index, "+") || at(index, "-") {
            let sign: Int64 = at(index, "-") ? -1 : 1
            let colon = index + 3 < chars.count && at(index + 3, ":")
            let end = index + (colon ? 6 : 5)
            guard end <= chars.count, let offsetHour = number(index + 1, 2),
                let offsetMinute = number(index + (colon ? 4 : 3), 2), offsetHour < 24, offsetMinute < 60
            else { return nil }
            offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
            index = end
        } else {
            return nil
        }
        guard index == chars.count else { return nil }
        let days = self.days(fromYear: year, month: month, day: day)
        let seconds = ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60 + second
        return seconds * 1000 + millisecond
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func days(fromYear year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = floorDivision(shiftedYear, 400).quotient
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = floorDivision(shifted, 146_097).quotient
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let remainder = value % divisor
        return remainder < 0 ? (value / divisor - 1, remainder + divisor) : (value / divisor, remainder)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let padded = String(repeating: "0", count: max(0, width - digits.count)) + digits
        return value < 0 ? "-" + padded : padded
    }
}
