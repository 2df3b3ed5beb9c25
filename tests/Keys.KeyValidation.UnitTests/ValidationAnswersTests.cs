using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Keys.KeyValidation.Grpc;
using Keys.V1;

namespace Keys.KeyValidation.UnitTests;

/// <summary>
/// What Validate answers for a record at an instant: a disabled key is described like a valid one (so that callers
/// cache it until its invalidation) and answered DISABLED, revocation and expiry win over it, the key's rate limit and
/// allowlists travel with VALID and DISABLED only, and a record cached before those fields existed reads as it was.
/// </summary>
public sealed class ValidationAnswersTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void DisabledKeyIsAnsweredDisabledWithEveryFieldOfAValidAnswer()
    {
        var record = Record();
        record.Disabled = true;

        var answer = ValidationAnswers.Evaluate(record, Now, asOf: 7);
        record.Disabled = false;
        var valid = ValidationAnswers.Evaluate(record, Now, asOf: 7);

        Assert.Equal(ValidationOutcome.Disabled, answer.Outcome);
        answer.Outcome = ValidationOutcome.Valid;
        Assert.Equal(valid, answer);
    }

    [Fact]
    public void ValidAnswerCarriesTheKeysRateLimitAndAllowlists()
    {
        var answer = ValidationAnswers.Evaluate(Record(), Now, asOf: 7);

        Assert.Equal(
            (ValidationOutcome.Valid, "key_0123456789abcdefghijkl", 7L),
            (answer.Outcome, answer.KeyId, answer.AsOfSequence));
        Assert.Equal(new RateLimitRule { Limit = 100, WindowSeconds = 60, Mode = RateLimitMode.Global }, answer.RateLimit);
        Assert.Equal(["10.0.0.0/8", "2001:db8::/32"], answer.AllowedCidrs);
        Assert.Equal(["https://app.example.com"], answer.AllowedOrigins);
    }

    [Theory]
    [InlineData(true, false, ValidationOutcome.Revoked)]
    [InlineData(false, true, ValidationOutcome.Expired)]
    [InlineData(true, true, ValidationOutcome.Revoked)]
    public void RevokedOrExpiredKeyIsAnsweredSoEvenWhenDisabledAndCarriesNothingOfTheKey(bool revoked, bool expired, ValidationOutcome outcome)
    {
        var record = Record();
        record.Disabled = true;
        record.RevokesAt = revoked ? Timestamp.FromDateTimeOffset(Now) : null;
        record.ExpiresAt = expired ? Timestamp.FromDateTimeOffset(Now.AddSeconds(-1)) : null;

        var answer = ValidationAnswers.Evaluate(record, Now, asOf: 3);

        Assert.Equal(new ValidateResponse { Outcome = outcome, AsOfSequence = 3 }, answer);
    }

    [Fact]
    public void NoRecordIsNotFound() =>
        Assert.Equal(new ValidateResponse { Outcome = ValidationOutcome.NotFound, AsOfSequence = 3 }, ValidationAnswers.Evaluate(null, Now, asOf: 3));

    [Fact]
    public void RecordCachedBeforeSwitchesLimitsAndAllowlistsExistedReadsAsEnabledUnlimitedAndUsableFromAnywhere()
    {
        // Fields 1 to 7 only, as Redis holds records written before this version: the bytes of such a record.
        var old = new KeyRecord { KeyId = "key_0123456789abcdefghijkl", ProjectId = "prj_0123456789abcdefghijkl", Environment = "prod", Type = KeyType.Secret };
        var cached = KeyRecord.Parser.ParseFrom(old.ToByteArray());

        var answer = ValidationAnswers.Evaluate(cached, Now, asOf: 1);

        Assert.Equal(ValidationOutcome.Valid, answer.Outcome);
        Assert.Null(answer.RateLimit);
        Assert.Empty(answer.AllowedCidrs);
        Assert.Empty(answer.AllowedOrigins);
    }

    [Fact]
    public void ReplicaThatDoesNotKnowTheNewFieldsWritesThemBackUnchanged()
    {
        // A replica of the version before reads a record KeyAdmin filled (as a message without fields 8 to 11) and
        // writes it to Redis again: protobuf keeps the fields it does not know, so the new replicas still see them.
        var record = Record();
        record.Disabled = true;
        var reserialized = Empty.Parser.ParseFrom(record.ToByteArray()).ToByteArray();

        Assert.Equal(record, KeyRecord.Parser.ParseFrom(reserialized));
    }

    private static KeyRecord Record() => new()
    {
        KeyId = "key_0123456789abcdefghijkl",
        ProjectId = "prj_0123456789abcdefghijkl",
        Environment = "prod",
        Type = KeyType.Secret,
        Scopes = { "orders:read" },
        ExpiresAt = Timestamp.FromDateTimeOffset(Now.AddDays(1)),
        RateLimit = new RateLimitRule { Limit = 100, WindowSeconds = 60, Mode = RateLimitMode.Global },
        AllowedCidrs = { "10.0.0.0/8", "2001:db8::/32" },
        AllowedOrigins = { "https://app.example.com" },
    };
}
