using System.ComponentModel.DataAnnotations;

namespace Keys.KeyAdmin;

public sealed class KeyAdminOptions
{
    public const string SectionName = "KeyAdmin";

    /// <summary>
    /// The break-glass token: an owner that needs no database, for creating the first operator and for emergencies.
    /// Operators otherwise present tokens of their own (<c>op_…</c>) as <c>Authorization: Bearer …</c>.
    /// </summary>
    [Required(ErrorMessage = "KeyAdmin:AdminToken is not set: the management API would have no credential.")]
    [MinLength(32, ErrorMessage = "KeyAdmin:AdminToken must be at least 32 characters.")]
    public string AdminToken { get; set; } = "";

    /// <summary>
    /// The Aspire dashboard's credential for its commands: an owner, audited as <c>dashboard</c>. Unset, no token is
    /// the dashboard's.
    /// </summary>
    [MinLength(32, ErrorMessage = "KeyAdmin:DashboardToken must be at least 32 characters.")]
    public string? DashboardToken { get; set; }

    /// <summary>Wrong tokens one client address may send per <see cref="FailedTokenWindow"/> before it gets 429.</summary>
    [Range(1, int.MaxValue)]
    public int FailedTokenLimit { get; set; } = 10;

    public TimeSpan FailedTokenWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The Redis channel KeyValidation listens on for invalidations.</summary>
    public string InvalidationChannel { get; set; } = "keys:invalidations";

    /// <summary>The Redis channel KeyValidation listens on for requests to flush its caches.</summary>
    public string ControlChannel { get; set; } = "keys:control";

    /// <summary>How often the relay looks for unpublished invalidations when no change wakes it.</summary>
    public TimeSpan OutboxPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the relay waits for Redis to take a batch of invalidations before it tries again.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long an invalidation stays in the outbox once published (7 days): long enough that a KeyValidation replica
    /// (or its Redis) that was away for less catches up change by change. One away longer is told its cursor is too old
    /// (<c>CHANGES_TOO_OLD</c>) and flushes: every cache then reloads from KeyAdmin. Unpublished rows are never pruned,
    /// nor the newest row, which numbers the next one.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00", ErrorMessage = "KeyAdmin:OutboxRetention must be from 1 second to 3650 days.")]
    public TimeSpan OutboxRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often one replica prunes the outbox of rows older than <see cref="OutboxRetention"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "KeyAdmin:OutboxPruneInterval must be from 1 second to 1 day.")]
    public TimeSpan OutboxPruneInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The most keys a project's new default rate limit invalidates one by one (1,000). When more follow the default,
    /// the change is one invalidation of the whole project, which caches apply as a flush: one outbox row rather than
    /// one per key, so that neither the lock that numbers invalidations nor the relay is held up by a large project,
    /// and a delete elsewhere is not queued behind it. 0: always the one invalidation.
    /// </summary>
    [Range(0, 100_000, ErrorMessage = "KeyAdmin:ProjectInvalidationKeyLimit must be from 0 to 100000.")]
    public int ProjectInvalidationKeyLimit { get; set; } = 1000;

    /// <summary>
    /// The largest request body the REST API reads (64 KB): a larger one is refused with 413 before it is read, so a
    /// client cannot make KeyAdmin hold megabytes to learn that a name is wrong. The largest real body (a key with
    /// allowlists and 1 KB of metadata) is a few KB.
    /// </summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxRequestBodyBytes { get; set; } = 64 * 1024;
}
