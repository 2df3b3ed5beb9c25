using Keys.KeysCtl.Parsing;
using Keys.V1;

namespace Keys.KeysCtl.UnitTests;

public sealed class RateLimitsTests
{
    [Theory]
    [InlineData("100/1m", 100, 60, "local")]
    [InlineData("5000/1h,global", 5000, 3600, "global")]
    [InlineData("10/90s,local", 10, 90, "local")]
    [InlineData(" 7 / 1d , global ", 7, 86400, "global")]
    [InlineData("1/1h30m", 1, 5400, "local")]
    // Ranges are KeyAdmin's to refuse (INVALID_RATE_LIMIT), not the syntax's.
    [InlineData("99999999999/2d", 99999999999, 172800, "local")]
    public void ARateLimitIsRequestsPerWindowAndAMode(string text, long limit, long window, string mode)
    {
        Assert.True(RateLimits.TryParse(text, out var parsed));
        Assert.Equal(new RateLimitSpec(limit, window, mode), parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("100")]
    [InlineData("100/")]
    [InlineData("/1m")]
    [InlineData("0/1m")]
    [InlineData("-1/1m")]
    [InlineData("1.5/1m")]
    [InlineData("100/0")]
    [InlineData("100/60")]
    [InlineData("100/1m,")]
    [InlineData("100/1m,GLOBAL")]
    [InlineData("100/1m,global,local")]
    [InlineData("100/1m/1h")]
    [InlineData("100 per minute")]
    public void AnythingElseIsNotARateLimit(string text) => Assert.False(RateLimits.TryParse(text, out _));

    [Theory]
    [InlineData(100, 60, "local", "100/1m")]
    [InlineData(100, 60, "", "100/1m")]
    [InlineData(5000, 3600, "global", "5000/1h,global")]
    [InlineData(1, 86400, "local", "1/1d")]
    [InlineData(3, 90, "local", "3/90s")]
    [InlineData(3, 5400, "local", "3/90m")]
    [InlineData(3, 604800, "local", "3/1w")]
    public void ALimitIsShownAsItIsTyped(long limit, int window, string mode, string shown)
    {
        Assert.Equal(shown, RateLimits.Describe(new RateLimit { Limit = limit, WindowSeconds = window, Mode = mode }));
        Assert.True(RateLimits.TryParse(shown, out var parsed));
        Assert.Equal(new RateLimitSpec(limit, window, mode == "global" ? "global" : "local"), parsed);
    }
}
