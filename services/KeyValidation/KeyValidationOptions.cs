using System.ComponentModel.DataAnnotations;

namespace Keys.KeyValidation;

public sealed class KeyValidationOptions
{
    public const string SectionName = "KeyValidation";

    /// <summary>KeyAdmin's gRPC endpoint; service discovery resolves the name.</summary>
    [Required]
    public Uri KeyAdminAddress { get; set; } = new("http://_grpc.key-admin");

    /// <summary>The Redis channel KeyAdmin publishes invalidations on.</summary>
    public string InvalidationChannel { get; set; } = "keys:invalidations";

    /// <summary>The Redis channel KeyAdmin sends operators' cache flush requests on.</summary>
    public string ControlChannel { get; set; } = "keys:control";

    /// <summary>What every Redis key of KeyValidation's starts with.</summary>
    [Required]
    public string RedisKeyPrefix { get; set; } = "keys:v1:";

    /// <summary>What the shared counters of global rate limits (<c>AcquireRateBudget</c>) start with, in Redis.</summary>
    [Required]
    public string RateLimitKeyPrefix { get; set; } = "keys:rl:";

    /// <summary>How long a key record stays in Redis without being read from KeyAdmin again.</summary>
    public TimeSpan RecordTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a lookup in KeyAdmin may take before Validate answers Unavailable.</summary>
    public TimeSpan LookupTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest a record stays in process memory, however quiet the invalidation channel is.</summary>
    public TimeSpan MemoryMaxAge { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long "no such key" is remembered, in memory and in Redis.</summary>
    public TimeSpan NotFoundMaxAge { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>At most this many records of existing keys in process memory.</summary>
    [Range(1, 10_000_000)]
    public int MemoryMaxEntries { get; set; } = 100_000;

    /// <summary>
    /// At most this many "no such key" answers in process memory, apart from the records: a flood of unknown keys can
    /// fill this and never push out a real key.
    /// </summary>
    [Range(1, 10_000_000)]
    public int NotFoundMaxEntries { get; set; } = 10_000;

    /// <summary>
    /// At most this many lookups in KeyAdmin at once; past it, a lookup fails at once with Unavailable (the gateway
    /// answers 503) instead of queueing on KeyAdmin and Postgres.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxConcurrentLookups { get; set; } = 64;

    /// <summary>
    /// How often KeyAdmin is asked for changes since the last applied one, which catches a lost last pub/sub message.
    /// </summary>
    public TimeSpan ChangesPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often last-used times are sent to KeyAdmin.</summary>
    public TimeSpan UsageFlushInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many recent invalidations a reconnecting Watch client can be replayed; older means flush.</summary>
    [Range(1, 1_000_000)]
    public int WatchReplayCapacity { get; set; } = 4096;

    /// <summary>At most this many Watch streams open on this replica at once.</summary>
    [Range(1, 1_000_000)]
    public int WatchMaxStreams { get; set; } = 1024;

    /// <summary>At most this many Watch streams open at once for one caller (one service credential).</summary>
    [Range(1, 1_000_000)]
    public int WatchMaxStreamsPerCaller { get; set; } = 256;

    /// <summary>How often an idle Watch stream gets a heartbeat.</summary>
    public TimeSpan WatchHeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Events one Watch client may have waiting; a client further behind is sent a flush in place of its backlog.
    /// </summary>
    [Range(16, 10_000_000)]
    public int WatchBufferCapacity { get; set; } = 10_000;

    /// <summary>
    /// How long this replica trusts its caches, and lets Watch streams vouch for theirs, since KeyAdmin last confirmed
    /// (every <see cref="ChangesPollInterval"/>) that it has every change. Past it, Watch streams end and lookups go
    /// to KeyAdmin.
    /// </summary>
    public TimeSpan ConfirmationTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>The longest a lookup waits on Redis before asking KeyAdmin instead; it also bounds Redis writes.</summary>
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a replica that missed a key waits for another replica's lookup of it (under a lease in Redis) to reach
    /// Redis before it asks KeyAdmin itself; zero turns single flight across replicas off (each replica looks up).
    /// </summary>
    public TimeSpan LookupLeaseWait { get; set; } = TimeSpan.FromSeconds(1);
}
