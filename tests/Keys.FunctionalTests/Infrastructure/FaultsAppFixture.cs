using Xunit.Abstractions;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// A system of its own for the tests that stop, freeze or kill a part of it (Redis, KeyAdmin, KeyValidation) or make
/// Redis refuse what KeyAdmin sends: what they leave behind (a replica still catching up, a gateway still backing off,
/// invalidations still queued) must never meet a test that allows a revocation one second. Also the faults themselves,
/// and the way back to a system whose every replica is proven ready.
/// </summary>
public class FaultsAppFixture(IMessageSink diagnostics) : KeysAppFixture(diagnostics)
{
    private ProjectDto? _probeProject;

    /// <summary>The services a fault test may disturb, dependencies first, with the replicas the tests run.</summary>
    public static readonly IReadOnlyList<(string Name, int Replicas)> Services =
        [("redis", 1), ("key-admin", 1), ("key-validation", 2), ("gateway", 2)];

    protected override string Name => "faults";

    // Fault tests make thousands of requests and search no logs.
    protected override bool RequestLogs => false;

    /// <summary>Stops a resource, or one replica of it (<paramref name="replicaId"/>), and waits until it has exited.</summary>
    public async Task StopResourceAsync(string name, string? replicaId = null)
    {
        using var timeout = new CancellationTokenSource(KeysHost.StartTimeout);
        var result = await App.ResourceCommands.ExecuteCommandAsync(replicaId ?? name, KnownResourceCommands.StopCommand, timeout.Token);
        Assert.True(result.Success, result.Message);
        await App.ResourceNotifications.WaitForResourceAsync(
            name,
            e => (replicaId is null || e.ResourceId == replicaId) && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text),
            timeout.Token);
    }

    /// <summary>The instance names of a resource's replicas (what resource commands take).</summary>
    public async Task<IReadOnlyList<string>> GetReplicaIdsAsync(string name, int replicas)
    {
        var ids = new HashSet<string>();
        using var timeout = new CancellationTokenSource(KeysHost.StartTimeout);
        await App.ResourceNotifications.WaitForResourceAsync(
            name,
            e =>
            {
                ids.Add(e.ResourceId);
                return ids.Count >= replicas;
            },
            timeout.Token);
        return [.. ids];
    }

    /// <summary>
    /// Starts a stopped resource, or the given replicas of it, and returns once <paramref name="isReady"/> says it
    /// serves again (by default: every replica answers its own health check).
    /// </summary>
    public async Task StartResourceAsync(string name, Func<CancellationToken, Task<bool>>? isReady = null, IReadOnlyList<string>? replicaIds = null)
    {
        using var timeout = new CancellationTokenSource(KeysHost.StartTimeout);
        foreach (var instance in replicaIds ?? [name])
        {
            var result = await App.ResourceCommands.ExecuteCommandAsync(instance, KnownResourceCommands.StartCommand, timeout.Token);
            Assert.True(result.Success, result.Message);
        }

        await KeysHost.UntilAsync(isReady ?? (ct => ReadyAsync(name, ct)), timeout.Token);
    }

    /// <summary>Restarts a resource and returns once every replica of it answers its own health check.</summary>
    public async Task RestartResourceAsync(string name)
    {
        using var timeout = new CancellationTokenSource(KeysHost.StartTimeout);
        var result = await App.ResourceCommands.ExecuteCommandAsync(name, KnownResourceCommands.RestartCommand, timeout.Token);
        Assert.True(result.Success, result.Message);
        await KeysHost.UntilAsync(ct => ReadyAsync(name, ct), timeout.Token);
    }

    /// <summary>True once Redis answers PING with the app's credentials.</summary>
    public async Task<bool> RedisAnswersAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync((await App.GetConnectionStringAsync("redis", cancellationToken))!);
            await redis.GetDatabase().PingAsync();
            return true;
        }
        catch (StackExchange.Redis.RedisConnectionException)
        {
            return false;
        }
    }

    /// <summary>
    /// Returns once every replica's own <c>/health</c> answers 200. Asking through the proxy would let one healthy
    /// replica hide another that is still starting (a KeyValidation replica refuses Watch until it is current).
    /// </summary>
    public async Task WaitForReplicasHealthyAsync(string name)
    {
        using var timeout = new CancellationTokenSource(KeysHost.StartTimeout);
        await KeysHost.UntilAsync(ct => Host.ReplicasHealthyAsync(name, ct), timeout.Token);
    }

    /// <summary>
    /// Freezes a resource's process (SIGSTOP) while <paramref name="whileFrozen"/> runs, and always lets it go on
    /// (SIGCONT) afterwards, even when <paramref name="whileFrozen"/> throws: a failing test never leaves it frozen for
    /// the tests after it.
    /// </summary>
    public Task FreezeAsync(string name, Func<Task> whileFrozen) => Host.FreezeAsync(name, whileFrozen);

    /// <summary>
    /// Kills the processes of the given replicas together (SIGKILL: no graceful stop, nothing said on their
    /// connections), calls <paramref name="killed"/> right after the signals, and returns once the app model has seen
    /// every one of them end, so that they can be started again.
    /// </summary>
    public async Task KillAsync(string name, IReadOnlyList<string> replicaIds, Action? killed = null)
    {
        var pids = new List<int>();
        foreach (var replicaId in replicaIds)
        {
            pids.Add(await Host.ProcessIdAsync(name, replicaId));
        }

        pids.ForEach(pid => ProcessSignals.Send(pid, ProcessSignals.Kill));
        killed?.Invoke();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var replicaId in replicaIds)
        {
            await App.ResourceNotifications.WaitForResourceAsync(
                name, e => e.ResourceId == replicaId && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), timeout.Token);
        }
    }

    /// <summary>The state the app model shows for every replica of every service, by replica id.</summary>
    public async Task<IReadOnlyDictionary<string, string>> ServiceStatesAsync()
    {
        var states = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, replicas) in Services)
        {
            foreach (var replicaId in await GetReplicaIdsAsync(name, replicas))
            {
                states[replicaId] = App.ResourceNotifications.TryGetCurrentState(replicaId, out var current)
                    ? current.Snapshot.State?.Text ?? "(none)"
                    : "(unknown)";
            }
        }

        return states;
    }

    /// <summary>
    /// Brings back whatever a fault test froze, stopped or killed, dependencies first, and returns once Redis answers,
    /// every replica of every service answers its own health check, and a new key passes every gateway replica, each
    /// asked at its own address: the test after a fault test starts from a system that is whole, not from one whose
    /// proxy found one ready replica.
    /// </summary>
    public async Task RecoverAsync()
    {
        using var timeout = new CancellationTokenSource(KeysHost.StartTimeout);
        foreach (var (name, replicas) in Services)
        {
            foreach (var replicaId in await GetReplicaIdsAsync(name, replicas))
            {
                // Starting or stopping: wait until it is one or the other.
                var settled = await App.ResourceNotifications.WaitForResourceAsync(
                    name,
                    e => e.ResourceId == replicaId
                        && (e.Snapshot.State?.Text == KnownResourceStates.Running || KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text)),
                    timeout.Token);
                if (settled.Snapshot.State?.Text == KnownResourceStates.Running)
                {
                    // Harmless when it is not frozen; essential when a test died between its SIGSTOP and its SIGCONT.
                    ProcessSignals.SendIfAlive(await Host.ProcessIdAsync(name, replicaId), ProcessSignals.Continue);
                }
                else
                {
                    var result = await App.ResourceCommands.ExecuteCommandAsync(replicaId, KnownResourceCommands.StartCommand, timeout.Token);
                    Assert.True(result.Success, $"{replicaId} did not start again: {result.Message}");
                }
            }

            await KeysHost.UntilAsync(ct => ReadyAsync(name, ct), timeout.Token);
        }

        // Healthy processes are not yet a serving system: a restarted KeyValidation may still be catching up, and a
        // gateway's client may still be backing off. A new key must pass every gateway replica.
        var admin = CreateKeyAdminClient();
        _probeProject ??= await admin.CreateProjectAsync("Recovery probes");
        var probe = await admin.CreateKeyAsync(_probeProject.Id, "dev", $"probe-{Guid.NewGuid():N}"[..24], "secret", timeout.Token);
        await KeysHost.UntilAsync(ct => GatewaysPassAsync(probe.Value, ct), timeout.Token);
    }

    // Redis has no health endpoint: it is ready when it answers.
    private Task<bool> ReadyAsync(string name, CancellationToken cancellationToken) =>
        name == "redis" ? RedisAnswersAsync(cancellationToken) : Host.ReplicasHealthyAsync(name, cancellationToken);

    private async Task<bool> GatewaysPassAsync(string key, CancellationToken cancellationToken)
    {
        foreach (var address in await GetReplicaAddressesAsync("gateway", "http", Services.Single(s => s.Name == "gateway").Replicas))
        {
            using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(2) };
            try
            {
                if ((await http.SendAsync(GatewayResponses.Get("/demo/public/x", key), cancellationToken)).StatusCode != System.Net.HttpStatusCode.OK)
                {
                    return false;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>
/// A class of fault tests: in the faults collection (xUnit takes the attribute from the base class), and each of its
/// tests ends with the system brought back whole (<see cref="FaultsAppFixture.RecoverAsync"/>).
/// </summary>
[Collection(FaultsCollection.Name)]
public abstract class FaultTests : IAsyncLifetime
{
    /// <summary>The system the class's tests disturb: its collection's fixture.</summary>
    protected abstract FaultsAppFixture Faults { get; }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Faults.RecoverAsync();
}

/// <summary>
/// The fault tests, on their own system, and alone: they run after the collections that run in parallel, so that
/// their timing bounds are not measured on a machine busy with another system too.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultsCollection : ICollectionFixture<FaultsAppFixture>
{
    public const string Name = "Keys system under faults";
}
