using System.Globalization;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>Faults on the processes the app model runs (freeze, kill), and the way back to a healthy system.</summary>
public sealed partial class KeysAppFixture
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan HealthProbeTimeout = TimeSpan.FromSeconds(2);

    private ProjectDto? _probeProject;

    /// <summary>The services a fault test may disturb, dependencies first, with the replicas the tests run.</summary>
    public static readonly IReadOnlyList<(string Name, int Replicas)> Services =
        [("redis", 1), ("key-admin", 1), ("key-validation", 2), ("gateway", 2)];

    /// <summary>
    /// The operating-system process that serves a running resource (or one replica of it), after checking that it runs
    /// that resource's program. The snapshot's <c>executable.pid</c> is what DCP launched: the server itself for an
    /// executable such as redis-server, but <c>dotnet run</c> for a project, whose child is the service. Signalling
    /// <c>dotnet run</c> would leave the service running, orphaned, on its port.
    /// </summary>
    public async Task<int> GetProcessIdAsync(string name, string? replicaId = null)
    {
        using var timeout = new CancellationTokenSource(ProcessTimeout);
        var running = await App.ResourceNotifications.WaitForResourceAsync(
            name,
            e => (replicaId is null || e.ResourceId == replicaId)
                && e.Snapshot.State?.Text == KnownResourceStates.Running
                && Property(e, "executable.pid") is not null,
            timeout.Token);
        var launched = Convert.ToInt32(Property(running, "executable.pid"), CultureInfo.InvariantCulture);

        if (Property(running, "project.path") is not string project)
        {
            // Debian's redis-server is a link to redis-check-rdb, which looks at the name it was started by.
            var expected = (string)Property(running, "executable.path")!;
            var target = File.ResolveLinkTarget(expected, returnFinalTarget: true)?.FullName ?? expected;
            var actual = ProcessSignals.Program(launched);
            return actual == target
                ? launched
                : throw new InvalidOperationException($"{running.ResourceId}: pid {launched} runs '{actual}', not '{expected}' ({target}).");
        }

        // The service is started a moment after `dotnet run`: look until it is there.
        var assembly = Path.GetFileNameWithoutExtension(project);
        var output = Path.Combine(Path.GetDirectoryName(project)!, "bin") + Path.DirectorySeparatorChar;
        while (true)
        {
            var children = ProcessSignals.Children(launched);
            foreach (var child in children)
            {
                if (RunsProject(child, output, assembly))
                {
                    return child;
                }
            }

            if (timeout.IsCancellationRequested)
            {
                var found = string.Join(", ", children.Select(c => $"{c}: {ProcessSignals.Program(c)}"));
                throw new InvalidOperationException(
                    $"{running.ResourceId}: pid {launched} ({string.Join(' ', ProcessSignals.CommandLine(launched))}) has no child running {output}…/{assembly} (children: {found}).");
            }

            await Task.Delay(100, CancellationToken.None);
        }
    }

    /// <summary>
    /// Freezes a resource's process (SIGSTOP) while <paramref name="whileFrozen"/> runs, and always lets it go on
    /// (SIGCONT) afterwards, even when <paramref name="whileFrozen"/> throws: a failing test never leaves it frozen for
    /// the tests after it.
    /// </summary>
    public async Task FreezeAsync(string name, Func<Task> whileFrozen)
    {
        var pid = await GetProcessIdAsync(name);
        ProcessSignals.Send(pid, ProcessSignals.Stop);
        try
        {
            await whileFrozen();
        }
        finally
        {
            ProcessSignals.SendIfAlive(pid, ProcessSignals.Continue);
        }
    }

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
            pids.Add(await GetProcessIdAsync(name, replicaId));
        }

        pids.ForEach(pid => ProcessSignals.Send(pid, ProcessSignals.Kill));
        killed?.Invoke();

        using var timeout = new CancellationTokenSource(ProcessTimeout);
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
    /// every replica of every service answers its health check, and a new key passes every gateway: the tests after a
    /// fault test start from a healthy system.
    /// </summary>
    public async Task RecoverAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
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
                    ProcessSignals.SendIfAlive(await GetProcessIdAsync(name, replicaId), ProcessSignals.Continue);
                }
                else
                {
                    var result = await App.ResourceCommands.ExecuteCommandAsync(replicaId, KnownResourceCommands.StartCommand, timeout.Token);
                    Assert.True(result.Success, $"{replicaId} did not start again: {result.Message}");
                }
            }

            await WaitUntilReadyAsync(
                ct => name == "redis" ? RedisAnswersAsync(ct) : ReplicasHealthyAsync(name, replicas, ct),
                timeout.Token);
        }

        // Healthy processes are not yet a serving system: a restarted KeyValidation may still be catching up, and a
        // gateway's client may still be backing off. A new key must pass every gateway replica.
        var admin = CreateKeyAdminClient();
        _probeProject ??= await admin.CreateProjectAsync("Recovery probes");
        var probe = await admin.CreateKeyAsync(_probeProject.Id, "dev", $"probe-{Guid.NewGuid():N}"[..24], "secret", timeout.Token);
        await WaitUntilReadyAsync(ct => GatewaysPassAsync(probe.Value, ct), timeout.Token);
    }

    /// <summary>True once every replica of a service answers 200 on its own <c>/health</c>, not through the proxy.</summary>
    public async Task<bool> ReplicasHealthyAsync(string name, int replicas, CancellationToken cancellationToken)
    {
        foreach (var address in await GetReplicaAddressesAsync(name, "http", replicas))
        {
            using var http = new HttpClient { BaseAddress = address, Timeout = HealthProbeTimeout };
            try
            {
                if (!(await http.GetAsync("/health", cancellationToken)).IsSuccessStatusCode)
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

    private async Task<bool> GatewaysPassAsync(string key, CancellationToken cancellationToken)
    {
        foreach (var address in await GetReplicaAddressesAsync("gateway", "http", Services.Single(s => s.Name == "gateway").Replicas))
        {
            using var http = new HttpClient { BaseAddress = address, Timeout = HealthProbeTimeout };
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

    private static object? Property(ResourceEvent resourceEvent, string name) =>
        resourceEvent.Snapshot.Properties.FirstOrDefault(p => p.Name == name)?.Value;

    // The service's own executable (apphost) from the project's output folder, or `dotnet exec` of its dll.
    private static bool RunsProject(int pid, string output, string assembly)
    {
        var program = ProcessSignals.Program(pid);
        if (program is not null && program.StartsWith(output, StringComparison.Ordinal) && Path.GetFileName(program) == assembly)
        {
            return true;
        }

        return ProcessSignals.CommandLine(pid).Any(arg => arg.StartsWith(output, StringComparison.Ordinal) && Path.GetFileName(arg) == assembly + ".dll");
    }
}
