using Keys.KeyValidation.Grpc;
using Keys.V1;

namespace Keys.KeyValidation.UnitTests;

/// <summary>AcquireRateBudget's input: each malformed field is refused with its stable code, before Redis is touched.</summary>
public sealed class RateBudgetRequestsTests
{
    [Fact]
    public void WellFormedRequestIsServed() => Assert.Null(RateBudgetRequests.Check(Request()));

    [Theory]
    [InlineData("")]
    [InlineData("sk_0123456789abcdefghijklmnopqrstuvwxyz0123456789ab")]
    [InlineData("key_short")]
    [InlineData("key_0123456789abcdefghij:1")]
    [InlineData("prj_0123456789abcdefghijkl")]
    public void KeyIdThatIsNotAKeysIdIsInvalidKeyId(string keyId) => AssertRefused("INVALID_KEY_ID", Request(keyId: keyId));

    [Theory]
    [InlineData(0, 60)]
    [InlineData(-1, 60)]
    [InlineData(1_000_000_001, 60)]
    [InlineData(10, 0)]
    [InlineData(10, -5)]
    [InlineData(10, 86_401)]
    public void LimitOrWindowOutOfRangeIsInvalidRateLimit(long limit, int window) =>
        AssertRefused("INVALID_RATE_LIMIT", Request(limit: limit, window: window, start: 0));

    [Theory]
    [InlineData(-60)]
    [InlineData(1_800_000_001)]
    [InlineData(30)]
    public void WindowStartThatIsNoWindowsStartIsInvalidWindowStart(long start) =>
        AssertRefused("INVALID_WINDOW_START", Request(start: start));

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void RequestingLessThanOneIsInvalidRequested(long requested) =>
        AssertRefused("INVALID_REQUESTED", Request(requested: requested));

    [Fact]
    public void RequestingMoreThanTheLimitIsServedAndGrantedAtMostWhatIsLeft() =>
        Assert.Null(RateBudgetRequests.Check(Request(limit: 5, requested: 1_000)));

    private static void AssertRefused(string reason, AcquireRateBudgetRequest request)
    {
        var refusal = RateBudgetRequests.Check(request);
        Assert.NotNull(refusal);
        Assert.Equal(reason, refusal.Value.Reason);
        Assert.False(string.IsNullOrWhiteSpace(refusal.Value.Message));
    }

    private static AcquireRateBudgetRequest Request(
        string keyId = "key_0123456789abcdefghijkl", long limit = 100, int window = 60, long start = 1_800_000_000, long requested = 2) => new()
        {
            KeyId = keyId,
            Limit = limit,
            WindowSeconds = window,
            WindowStart = start,
            Requested = requested,
        };
}
