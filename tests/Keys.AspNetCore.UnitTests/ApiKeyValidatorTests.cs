using System.Diagnostics.Metrics;
using System.Net;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Diagnostics;
using Keys.AspNetCore.Invalidation;
using Keys.AspNetCore.Validation;
using Keys.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// What the validator promises around a lookup: the near cache answers without I/O while it is connected and exact,
/// concurrent misses share one <c>Validate</c> call unless its answer predates what the joiner had seen, the
/// invalid-key throttle is spent on guesses only, and KeyValidation failing is a 503, never a pass. KeyValidation is a
/// fake whose calls the test counts and answers; the clock is fake.
/// </summary>
public sealed class ApiKeyValidatorTests : IDisposable
{
    private const long Sequence = 10;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private static readonly IPAddress Client = IPAddress.Parse("203.0.113.7");
    private static readonly IPAddress OtherClient = IPAddress.Parse("198.51.100.9");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeKeyValidation _validation = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly NearCache _cache;
    private readonly string _secret = KeyString.Generate(ApiKeyType.Secret);

    public ApiKeyValidatorTests() => _cache = new NearCache(Options.Create(new ApiKeyValidationOptions()), _time);

    public void Dispose() => _services.Dispose();

    // --- The near cache ---

    [Fact]
    public async Task CachedKeyIsAnsweredAtOnceWithoutAnyCall()
    {
        var validator = Connected();
        _validation.OnCall = call => call.Answer(Valid());
        Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);

        var again = validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default);

        Assert.True(again.IsCompletedSuccessfully);
        Assert.Equal("key_0123456789abcdefghij", (await again).Key?.KeyId);
        Assert.Equal(1, _validation.ValidateCalls);
    }

    [Fact]
    public async Task CachedKeyIsRefusedFromTheInstantItExpiresWithoutALookup()
    {
        var validator = Connected();
        // Within the cache's maximum age, so that the key is still cached when it expires.
        var expiresAt = _time.GetUtcNow().AddSeconds(10);
        _validation.OnCall = call => call.Answer(Valid(expiresAt: expiresAt));
        Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);

        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Same(ApiKeyRefusal.ExpiredKey, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal);
        Assert.Equal(1, _validation.ValidateCalls);
    }

    [Fact]
    public async Task DisabledKeyIsCachedLikeAValidOneAndRefusedOnEveryRequestWithoutALookup()
    {
        var validator = Connected();
        _validation.OnCall = call => call.Answer(Disabled(Valid()));

        var first = await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default);
        var again = validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default);

        Assert.Same(ApiKeyRefusal.DisabledKey, first.Refusal);
        Assert.True(again.IsCompletedSuccessfully);
        Assert.Same(ApiKeyRefusal.DisabledKey, (await again).Refusal);
        Assert.Equal(1, _validation.ValidateCalls);
        Assert.Equal(1, _cache.Count);
    }

    [Fact]
    public async Task DisabledKeyReEnabledIsLookedUpAgainOnceItsInvalidationArrivesAndPasses()
    {
        var validator = Connected();
        _validation.OnCall = call => call.Answer(Disabled(Valid()));
        Assert.Same(ApiKeyRefusal.DisabledKey, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal);

        // KeyAdmin switches it back on: the change's invalidation drops it here, and the next request asks again.
        _validation.OnCall = call => call.Answer(Valid(asOf: Sequence + 1));
        Assert.True(_cache.TryInvalidate(KeyHash.Of(_secret).ToArray(), Sequence + 1));

        Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);
        Assert.Equal(2, _validation.ValidateCalls);
    }

    [Fact]
    public async Task DisabledKeyGivesItsPermitBackLikeAValidOne()
    {
        var validator = Validator(invalidKeyLimit: 1);
        _validation.OnCall = call => call.Answer(Disabled(Valid(asOf: 0)));

        for (var i = 0; i < 3; i++)
        {
            Assert.Same(ApiKeyRefusal.DisabledKey, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal);
        }
    }

    [Fact]
    public async Task AnswerCarriesTheKeysRateLimitAndAllowlistsParsedOnce()
    {
        var validator = Connected();
        var answer = Valid();
        answer.RateLimit = new RateLimitRule { Limit = 100, WindowSeconds = 60, Mode = RateLimitMode.Global };
        answer.AllowedCidrs.Add("10.0.0.0/8");
        answer.AllowedOrigins.Add("https://app.example.com");
        _validation.OnCall = call => call.Answer(answer);

        var key = (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key!;
        var cached = (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key!;

        Assert.Same(key, cached);
        Assert.Equal((100L, 60, true, "\"key\";q=100;w=60"), (key.RateLimit!.Limit, key.RateLimit.WindowSeconds, key.RateLimit.IsGlobal, key.RateLimit.PolicyHeader));
        Assert.Equal(System.Net.IPNetwork.Parse("10.0.0.0/8"), Assert.Single(key.AllowedNetworks!));
        Assert.Equal("https://app.example.com", Assert.Single(key.AllowedOrigins!));
        Assert.False(key.Disabled);
    }

    [Fact]
    public async Task AnswerOlderThanTheCacheIsUsedButNotCachedSoTheNextRequestLooksUpAgain()
    {
        var validator = Connected();
        _validation.OnCall = call => call.Answer(Valid(asOf: Sequence - 1));

        Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);
        Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);

        Assert.Equal(2, _validation.ValidateCalls);
    }

    [Fact]
    public async Task WhileTheCacheIsDisconnectedEveryRequestLooksTheKeyUp()
    {
        // No heartbeat yet: the Watch stream is not connected, so nothing may be served from memory.
        var validator = Validator();
        _validation.OnCall = call => call.Answer(Valid(asOf: 0));

        for (var i = 0; i < 3; i++)
        {
            Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);
        }

        Assert.Equal(3, _validation.ValidateCalls);
    }

    [Fact]
    public async Task WhileTheCacheIsDisconnectedConcurrentMissesDoNotShareALookup()
    {
        // Without the stream there is no sequence to tell whether a lookup in flight predates an invalidation.
        var validator = Validator();

        var requests = Enumerable.Range(0, 3)
            .Select(_ => validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default).AsTask())
            .ToArray();

        Assert.Equal(3, _validation.ValidateCalls);
        for (var i = 0; i < 3; i++)
        {
            (await _validation.NextCallAsync()).Answer(Valid(asOf: 0));
        }

        Assert.All(await Done(Task.WhenAll(requests)), result => Assert.NotNull(result.Key));
    }

    [Fact]
    public async Task KeyCachedBeforeTheStreamDroppedIsLookedUpAgain()
    {
        var validator = Connected();
        _validation.OnCall = call => call.Answer(Valid());
        Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);

        _cache.Flush();

        Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);
        Assert.Equal(2, _validation.ValidateCalls);
    }

    [Fact]
    public async Task LookupSendsTheKeyWithADeadlineOfTheValidationTimeout()
    {
        var validator = Connected();
        var pending = validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default);

        var call = await _validation.NextCallAsync();

        Assert.Equal(_secret, call.Request.Key);
        Assert.Equal((_time.GetUtcNow() + Timeout).UtcDateTime, call.Options.Deadline);
        call.Answer(Valid());
        Assert.NotNull((await Done(pending.AsTask())).Key);
    }

    // --- One lookup per key, however many requests wait for it ---

    [Fact]
    public async Task ConcurrentMissesForOneKeyMakeOneCallAndAllGetTheKey()
    {
        var validator = Connected();

        var requests = Enumerable.Range(0, 8)
            .Select(_ => validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default).AsTask())
            .ToArray();

        Assert.Equal(1, _validation.ValidateCalls);
        Assert.All(requests, request => Assert.False(request.IsCompleted));
        (await _validation.NextCallAsync()).Answer(Valid(scopes: ["orders:read"]));
        var results = await Done(Task.WhenAll(requests));
        Assert.Equal(1, _validation.ValidateCalls);
        Assert.All(results, result => Assert.Equal(["orders:read"], result.Key?.Scopes));
    }

    [Fact]
    public async Task RequestsJoiningALookupOfAnUnknownKeySpendNoPermitOfTheirOwn()
    {
        var validator = Validator(invalidKeyLimit: 1, connected: true);
        var requests = Enumerable.Range(0, 5)
            .Select(_ => validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default).AsTask())
            .ToArray();
        Assert.Equal(1, _validation.ValidateCalls);

        (await _validation.NextCallAsync()).Answer(Answer(ValidationOutcome.NotFound));

        // One lookup, one permit: every request is told the key is invalid, none that it sent too many.
        Assert.All(await Done(Task.WhenAll(requests)), result => Assert.Same(ApiKeyRefusal.InvalidKey, result.Refusal));
        Assert.Same(validator.TooManyInvalidKeys, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal);
        Assert.Equal(1, _validation.ValidateCalls);
    }

    [Fact]
    public async Task JoinedAnswerOlderThanWhatTheJoinerHadSeenIsNotUsedAndTheJoinerLooksUpItself()
    {
        var validator = Connected();
        var first = validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default).AsTask();
        var firstCall = await _validation.NextCallAsync();

        // An invalidation (it may be this key's deletion) reaches the cache while the first lookup is on its way...
        Assert.True(_cache.TryInvalidate(KeyHash.Of(_secret).ToArray(), Sequence + 1));
        // ...then a second request for the key arrives, and finds the first lookup in flight.
        var second = validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default).AsTask();
        firstCall.Answer(Valid(asOf: Sequence));

        // The first request may use what was true when it arrived; the second may not, and asks again.
        Assert.NotNull((await Done(first)).Key);
        var secondCall = _validation.NextCallAsync();
        await Task.WhenAny(second, secondCall);
        Assert.False(second.IsCompleted, "The second request was answered with what was true before it arrived.");
        (await secondCall).Answer(Answer(ValidationOutcome.Revoked, asOf: Sequence + 1));
        Assert.Same(ApiKeyRefusal.RevokedKey, (await Done(second)).Refusal);
        Assert.Equal(2, _validation.ValidateCalls);
    }

    [Fact]
    public async Task RequestsJoiningALookupThatFailsAreRefusedAsUnavailableWithoutCallingAgain()
    {
        var validator = Connected();
        var requests = Enumerable.Range(0, 3)
            .Select(_ => validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default).AsTask())
            .ToArray();
        Assert.Equal(1, _validation.ValidateCalls);

        (await _validation.NextCallAsync()).Fail(StatusCode.Unavailable);

        Assert.All(await Done(Task.WhenAll(requests)), result => Assert.Same(ApiKeyRefusal.ValidationUnavailable, result.Refusal));
        Assert.Equal(1, _validation.ValidateCalls);
    }

    [Fact]
    public async Task LookupGoesOnForTheRequestsJoiningItWhenTheClientThatStartedItGoesAway()
    {
        var validator = Connected();
        using var gone = new CancellationTokenSource();
        var first = validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, gone.Token).AsTask();
        var call = await _validation.NextCallAsync();
        var joiner = validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default).AsTask();
        Assert.Equal(1, _validation.ValidateCalls);

        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Done(first));
        call.Answer(Valid());

        Assert.NotNull((await Done(joiner)).Key);
        Assert.Equal(1, _validation.ValidateCalls);
    }

    // --- Failing closed, and what a failure costs the throttle ---

    [Theory]
    [InlineData(StatusCode.Unavailable)]
    [InlineData(StatusCode.Unauthenticated)]
    [InlineData(StatusCode.PermissionDenied)]
    public async Task KeyValidationUnreachableOrRefusingThisServiceIsA503AndGivesThePermitBack(StatusCode failure)
    {
        // Unreachable, or refusing this service's credential, KeyValidation did no lookup: an outage or a wrong token
        // must not leave a busy client told 429, as if it had sent invalid keys.
        var validator = Validator(invalidKeyLimit: 1, connected: true);
        _validation.OnCall = call => call.Fail(failure);

        var first = await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default);
        var second = await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default);

        Assert.Same(ApiKeyRefusal.ValidationUnavailable, first.Refusal);
        Assert.Same(ApiKeyRefusal.ValidationUnavailable, second.Refusal);
        Assert.Equal(503, second.Refusal!.StatusCode);
        Assert.Equal(2, _validation.ValidateCalls);
    }

    [Theory]
    [InlineData(StatusCode.DeadlineExceeded)]
    [InlineData(StatusCode.ResourceExhausted)]
    public async Task KeyValidationTooSlowOrSheddingIsA503AndThePermitStaysSpent(StatusCode failure)
    {
        // Overloaded, KeyValidation must not be sent more lookups than the throttle allows.
        var validator = Validator(invalidKeyLimit: 1, connected: true);
        _validation.OnCall = call => call.Fail(failure);

        var first = await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default);
        var second = await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default);

        Assert.Same(ApiKeyRefusal.ValidationUnavailable, first.Refusal);
        Assert.Same(validator.TooManyInvalidKeys, second.Refusal);
        Assert.Equal(429, second.Refusal!.StatusCode);
        Assert.Equal(1, _validation.ValidateCalls);
    }

    [Fact]
    public async Task ValidKeysGiveTheirPermitBackAndAnUnknownKeySpendsIt()
    {
        var validator = Validator(invalidKeyLimit: 1);
        var unknown = KeyString.Generate(ApiKeyType.Secret);
        _validation.OnCall = call => call.Answer(call.Request.Key == unknown ? Answer(ValidationOutcome.NotFound) : Valid(asOf: 0));

        // The cache is disconnected, so every request is a lookup, and each takes the only permit.
        for (var i = 0; i < 3; i++)
        {
            Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);
        }

        Assert.Same(ApiKeyRefusal.InvalidKey, (await validator.ValidateAsync(unknown, ApiKeyType.Secret, Client, default)).Refusal);

        // Spent: the address gets no more lookups this window, even for a valid key; another address is not affected.
        Assert.Same(validator.TooManyInvalidKeys, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal);
        Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, OtherClient, default)).Key);
        Assert.Equal(5, _validation.ValidateCalls);

        _time.Advance(Window);
        Assert.NotNull((await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Key);
    }

    [Theory]
    [InlineData(ValidationOutcome.Revoked)]
    [InlineData(ValidationOutcome.Expired)]
    public async Task KeyThatWasValidOnceSpendsAPermitLikeAnyOtherRefusedLookup(ValidationOutcome outcome)
    {
        var validator = Validator(invalidKeyLimit: 1, connected: true);
        _validation.OnCall = call => call.Answer(Answer(outcome));

        Assert.Equal(401, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal?.StatusCode);
        Assert.Same(validator.TooManyInvalidKeys, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal);
    }

    [Fact]
    public void GarbageSpendsPermitsUntilTheAddressIsTold429WithTheWindowToWait()
    {
        var validator = Validator(invalidKeyLimit: 3);

        Assert.Same(ApiKeyRefusal.InvalidKey, validator.Refuse(ApiKeyRefusal.InvalidKey, Client));
        Assert.Same(ApiKeyRefusal.AmbiguousKey, validator.Refuse(ApiKeyRefusal.AmbiguousKey, Client));
        Assert.Same(ApiKeyRefusal.InvalidKey, validator.Refuse(ApiKeyRefusal.InvalidKey, Client));
        var refusal = validator.Refuse(ApiKeyRefusal.InvalidKey, Client);

        Assert.Same(validator.TooManyInvalidKeys, refusal);
        Assert.Equal((429, "TOO_MANY_REQUESTS"), (refusal.StatusCode, refusal.Error));
        Assert.Same(ApiKeyRefusal.InvalidKey, validator.Refuse(ApiKeyRefusal.InvalidKey, OtherClient));
    }

    [Fact]
    public async Task GarbageSpendsThePermitsThatLookupsNeed()
    {
        var validator = Validator(invalidKeyLimit: 1, connected: true);

        validator.Refuse(ApiKeyRefusal.InvalidKey, Client);

        Assert.Same(validator.TooManyInvalidKeys, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal);
        Assert.Equal(0, _validation.ValidateCalls);
    }

    [Fact]
    public void RefusalsThatAreNoGuessSpendNothing()
    {
        var validator = Validator(invalidKeyLimit: 1);

        for (var i = 0; i < 3; i++)
        {
            Assert.Same(ApiKeyRefusal.MissingKey, validator.Refuse(ApiKeyRefusal.MissingKey, Client));
            Assert.Same(ApiKeyRefusal.SecretKeyInBrowser, validator.Refuse(ApiKeyRefusal.SecretKeyInBrowser, Client));
        }

        Assert.Same(ApiKeyRefusal.InvalidKey, validator.Refuse(ApiKeyRefusal.InvalidKey, Client));
    }

    // --- KeyValidation's answer, checked at this instant ---

    [Fact]
    public async Task ValidAnswerWhoseRevocationHasAlreadyComeIsRefusedOnTheFirstLookup()
    {
        var validator = Connected();
        _validation.OnCall = call => call.Answer(Valid(revokesAt: _time.GetUtcNow()));

        Assert.Same(ApiKeyRefusal.RevokedKey, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal);
    }

    [Fact]
    public async Task ValidAnswerWhoseExpiryHasAlreadyComeIsRefusedOnTheFirstLookup()
    {
        var validator = Connected();
        _validation.OnCall = call => call.Answer(Valid(expiresAt: _time.GetUtcNow().AddSeconds(-1)));

        Assert.Same(ApiKeyRefusal.ExpiredKey, (await validator.ValidateAsync(_secret, ApiKeyType.Secret, Client, default)).Refusal);
    }

    [Fact]
    public async Task KeyTakesItsTypeFromThePresentedKeyAndItsIdentityFromTheAnswer()
    {
        var validator = Connected();
        var publishable = KeyString.Generate(ApiKeyType.Publishable);
        _validation.OnCall = call => call.Answer(Valid(scopes: ["orders:read", "reports:*"]));

        var key = (await validator.ValidateAsync(publishable, ApiKeyType.Publishable, Client, default)).Key;

        Assert.NotNull(key);
        Assert.Equal(
            (ApiKeyType.Publishable, "key_0123456789abcdefghij", "prj_0123456789abcdefghij", "production", "orders:read,reports:*"),
            (key.Type, key.KeyId, key.ProjectId, key.Environment, key.JoinedScopes));
    }

    // A request waiting on a call that is never answered fails the test instead of hanging it.
    private static Task<T> Done<T>(Task<T> request) => request.WaitAsync(TimeSpan.FromSeconds(5));

    private ApiKeyValidator Connected() => Validator(connected: true);

    private ApiKeyValidator Validator(int invalidKeyLimit = 30, bool connected = false)
    {
        if (connected)
        {
            Assert.True(_cache.TryHeartbeat(Sequence));
        }

        return new ApiKeyValidator(
            _validation.Client,
            _cache,
            _time,
            new ApiKeyMetrics(_services.GetRequiredService<IMeterFactory>(), _cache, new WatchStatus(_time)),
            Options.Create(new ApiKeyValidationOptions
            {
                InvalidKeyLimit = invalidKeyLimit,
                InvalidKeyWindow = Window,
                ValidationTimeout = Timeout,
            }));
    }

    private static ValidateResponse Disabled(ValidateResponse answer)
    {
        answer.Outcome = ValidationOutcome.Disabled;
        return answer;
    }

    private static ValidateResponse Answer(ValidationOutcome outcome, long asOf = Sequence) =>
        new() { Outcome = outcome, AsOfSequence = asOf };

    private static ValidateResponse Valid(long asOf = Sequence, string[]? scopes = null, DateTimeOffset? expiresAt = null, DateTimeOffset? revokesAt = null)
    {
        var response = new ValidateResponse
        {
            Outcome = ValidationOutcome.Valid,
            KeyId = "key_0123456789abcdefghij",
            ProjectId = "prj_0123456789abcdefghij",
            Environment = "production",
            Type = KeyType.Secret,
            ExpiresAt = expiresAt is { } expires ? Timestamp.FromDateTimeOffset(expires) : null,
            RevokesAt = revokesAt is { } revokes ? Timestamp.FromDateTimeOffset(revokes) : null,
            AsOfSequence = asOf,
        };
        response.Scopes.Add(scopes ?? []);
        return response;
    }
}
