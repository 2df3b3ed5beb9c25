using Keys.KeyValidation.Grpc;
using Keys.V1;

namespace Keys.KeyValidation.UnitTests;

/// <summary>
/// AcquireRateBudget's input: each malformed field is refused with its stable code, before Redis is touched; only the
/// window of now (by this service's clock, give or take a minute) can be drawn from, and never more than the limit.
/// </summary>
public sealed class RateBudgetRequestsTests
{
    // Half a minute into the window of 60 s that starts at 1,800,000,000.
    private const long Now = 1_800_000_030;

    [Fact]
    public void WellFormedRequestIsServed() => Assert.Null(RateBudgetRequests.Check(Request(), Now));

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

    [Theory]
    [InlineData(1_800_000_120, 60)] // the window after next: it opens 90 s from now
    [InlineData(1_800_003_600, 60)] // an hour ahead
    [InlineData(1_800_057_600, 86_400)] // tomorrow, whose whole limit could be spent today
    [InlineData(1_799_999_880, 60)] // ended 90 s ago
    [InlineData(1_799_884_800, 86_400)] // yesterday
    [InlineData(0, 60)]
    public void WindowStartFarFromThisServicesClockIsInvalidWindowStart(long start, int window) =>
        AssertRefused("INVALID_WINDOW_START", Request(window: window, start: start));

    [Theory]
    [InlineData(1_800_000_000, 60)] // now's
    [InlineData(1_800_000_060, 60)] // the next, opening 30 s from now: a caller whose clock is 30 s ahead
    [InlineData(1_799_999_940, 60)] // the previous, ended 30 s ago: a caller whose clock is 30 s behind
    [InlineData(1_799_971_200, 86_400)] // today's
    [InlineData(1_800_000_030, 1)]
    public void WindowOfNowGiveOrTakeAMinuteIsServed(long start, int window) =>
        Assert.Null(RateBudgetRequests.Check(Request(window: window, start: start), Now));

    [Fact]
    public void RequestingMoreThanTheLimitIsServedAndDrawnForTheLimitAtMost()
    {
        var request = Request(limit: 5, requested: long.MaxValue);

        Assert.Null(RateBudgetRequests.Check(request, Now));
        Assert.Equal(5, RateBudgetRequests.Requested(request));
        Assert.Equal(2, RateBudgetRequests.Requested(Request(limit: 5, requested: 2)));
    }

    private static void AssertRefused(string reason, AcquireRateBudgetRequest request)
    {
        var refusal = RateBudgetRequests.Check(request, Now);
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
