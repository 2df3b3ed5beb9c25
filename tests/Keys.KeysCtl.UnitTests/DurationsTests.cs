using Keys.KeysCtl.Parsing;

namespace Keys.KeysCtl.UnitTests;

public sealed class DurationsTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 15, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("0", 0)]
    [InlineData("90s", 90)]
    [InlineData("15m", 15 * 60)]
    [InlineData("12h", 12 * 3600)]
    [InlineData("1h30m", 5400)]
    [InlineData("30d", 30 * 86400)]
    [InlineData("2w", 14 * 86400)]
    [InlineData(" 7d ", 7 * 86400)]
    public void DurationsAreWholeNumbersWithUnits(string text, int seconds)
    {
        Assert.True(Durations.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
    }

    [Theory]
    [InlineData("")]
    [InlineData("30")]
    [InlineData("30x")]
    [InlineData("-1d")]
    [InlineData("1.5h")]
    [InlineData("d")]
    [InlineData("1h 30m")]
    [InlineData("30D")]
    [InlineData("99999999999999999999d")]
    [InlineData("999999999w")]
    public void AnythingElseIsNotADuration(string text) => Assert.False(Durations.TryParse(text, out _));

    [Fact]
    public void AnExpiryGivenAsADurationCountsFromNow()
    {
        Assert.True(Durations.TryParseExpiry("30d", Now, out var expiry));
        Assert.Equal(Now.AddDays(30), expiry);
    }

    [Theory]
    [InlineData("2030-01-31T00:00:00Z")]
    [InlineData("2030-01-31T02:00:00+02:00")]
    [InlineData("2030-01-31T00:00:00")]
    [InlineData("2030-01-31")]
    public void AnExpiryGivenAsAnInstantIsThatInstantInUtcAndWithoutAnOffsetItIsUtc(string text)
    {
        Assert.True(Durations.TryParseExpiry(text, Now, out var expiry));
        Assert.Equal(new DateTimeOffset(2030, 1, 31, 0, 0, 0, TimeSpan.Zero), expiry);
        Assert.Equal(TimeSpan.Zero, expiry.Offset);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("01/02/2030")]
    [InlineData("tomorrow")]
    [InlineData("2030-13-01")]
    [InlineData("")]
    public void AnExpiryIsNeitherZeroNorADateInALocalFormat(string text) =>
        Assert.False(Durations.TryParseExpiry(text, Now, out _));
}
