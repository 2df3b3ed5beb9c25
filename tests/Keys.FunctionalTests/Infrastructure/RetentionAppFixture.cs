using Xunit.Abstractions;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// The faults system with an outbox that keeps invalidations for two seconds and is pruned every second, so that a
/// test can let KeyValidation miss invalidations that are gone by the time it is back. A system of its own: the other
/// fault tests read the outbox by key hash and ask <c>Changes</c> from sequences that are seconds old.
/// </summary>
public sealed class RetentionAppFixture(IMessageSink diagnostics) : FaultsAppFixture(diagnostics)
{
    public static readonly TimeSpan Retention = TimeSpan.FromSeconds(2);

    protected override string Name => "retention";

    protected override KeysHostOptions Configure(KeysHostOptions options) => options with
    {
        Environment =
        [
            .. options.Environment,
            ("key-admin", "KeyAdmin__OutboxRetention", Retention.ToString("c", System.Globalization.CultureInfo.InvariantCulture)),
            ("key-admin", "KeyAdmin__OutboxPruneInterval", "00:00:01"),
        ],
    };
}

/// <summary>The outbox retention tests, on their own system (<see cref="RetentionAppFixture"/>).</summary>
[CollectionDefinition(Name)]
public sealed class RetentionCollection : ICollectionFixture<RetentionAppFixture>
{
    public const string Name = "Keys system with a two-second outbox retention";
}
