using System.ComponentModel.DataAnnotations;

namespace Keys.AspNetCore;

/// <summary>How a service checks API keys (section <c>ApiKeys</c>): where KeyValidation is, and how long answers live here.</summary>
public sealed class ApiKeyValidationOptions : IValidatableObject
{
    public const string SectionName = "ApiKeys";

    /// <summary>KeyValidation's gRPC endpoint; service discovery resolves the name.</summary>
    [Required]
    public Uri KeyValidationAddress { get; set; } = new("http://_grpc.key-validation");

    /// <summary>Past this, a key check fails closed (503, gRPC <c>UNAVAILABLE</c>).</summary>
    public TimeSpan ValidationTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest a valid key stays in this process's memory, however quiet the invalidation stream is.</summary>
    public TimeSpan NearCacheMaxAge { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A Watch stream silent for longer is taken for dead: the near cache is flushed and the stream reopened.
    /// KeyValidation heartbeats every second.
    /// </summary>
    public TimeSpan WatchSilenceTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>At most this many keys in memory.</summary>
    [Range(1, 10_000_000)]
    public int NearCacheMaxEntries { get; set; } = 100_000;

    /// <summary>Invalid keys one client address may send per window before it gets 429.</summary>
    [Range(1, int.MaxValue)]
    public int InvalidKeyLimit { get; set; } = 30;

    public TimeSpan InvalidKeyWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// At most this many client addresses (IPv6: /64s) are counted apart; beyond it, new ones share one allowance, so
    /// that rotating addresses cannot exhaust memory.
    /// </summary>
    [Range(1, 10_000_000)]
    public int InvalidKeyMaxAddresses { get; set; } = 100_000;

    /// <summary>
    /// The largest budget of a <c>global</c> rate limit leased at once, as a share of the limit (at least 1 request).
    /// What a replica leased and did not spend by the window's end is lost to the others: with N replicas, the limit is
    /// kept within about 2 × N × this share below it (never above it). Lower it for many replicas and few requests.
    /// </summary>
    [Range(0.001, 0.5)]
    public double RateLimitLeaseFraction { get; set; } = 0.02;

    /// <summary>
    /// Durations must be positive, and are checked at start: a zero or negative window would make building the key
    /// check throw on every request (anonymous endpoints too, as the scheme authenticates them all), a timeout would
    /// fail every lookup, and a silence timeout would drop every Watch stream at once.
    /// </summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (name, value) in new[]
        {
            (nameof(ValidationTimeout), ValidationTimeout),
            (nameof(WatchSilenceTimeout), WatchSilenceTimeout),
            (nameof(InvalidKeyWindow), InvalidKeyWindow),
        })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return new ValidationResult($"{SectionName}:{name} must be positive.", [name]);
            }
        }
    }
}
