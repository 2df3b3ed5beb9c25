using Xunit.Abstractions;
using Xunit.Sdk;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// The system on a Redis Sentinel deployment (<see cref="RedisSentinelSet"/>) instead of its own Redis: every service
/// is given the Sentinels and the service name as <c>ConnectionStrings:redis</c>, while Postgres stays local. The set
/// starts first and is removed last, whatever fails in between.
/// </summary>
public sealed class SentinelAppFixture(IMessageSink diagnostics) : KeysAppFixture(diagnostics)
{
    private readonly IMessageSink _diagnostics = diagnostics;

    public RedisSentinelSet Redis { get; private set; } = null!;

    protected override string Name => "sentinel";

    // The failover test makes many requests and searches no logs.
    protected override bool RequestLogs => false;

    public override async Task InitializeAsync()
    {
        Redis = await RedisSentinelSet.StartAsync();
        _diagnostics.OnMessage(new DiagnosticMessage($"{GetType().Name}: Redis Sentinel logs in {Redis.LogPaths}"));
        try
        {
            await base.InitializeAsync();
        }
        catch
        {
            await Redis.DisposeAsync();
            throw;
        }
    }

    public override async Task DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        finally
        {
            if (Redis is not null)
            {
                await Redis.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// How long KeyValidation keeps a record in memory: short, so that a lookup reaches Redis again seconds after the
    /// failover, where a stale record would be found if anything still trusted the old epoch.
    /// </summary>
    public static readonly TimeSpan MemoryMaxAge = TimeSpan.FromSeconds(2);

    protected override KeysHostOptions Configure(KeysHostOptions options) => options with
    {
        Arguments = [.. options.Arguments, $"ConnectionStrings:redis={Redis.ConnectionString}"],
        Environment = [.. options.Environment, ("key-validation", "KeyValidation__MemoryMaxAge", MemoryMaxAge.ToString("c", System.Globalization.CultureInfo.InvariantCulture))],
    };
}

/// <summary>
/// The failover test, on its system of its own, and alone: it kills a Redis server, and its 5 s bound must not be
/// measured on a machine busy with another system too.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SentinelCollection : ICollectionFixture<SentinelAppFixture>
{
    public const string Name = "Keys on Redis Sentinel";
}
