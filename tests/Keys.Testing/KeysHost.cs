using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Keys.Testing;

/// <summary>
/// The whole system as the tests and the benchmarks start it, one way for both: the AppHost with local Postgres and
/// Redis in a fresh data directory (removed afterwards), KeyAdmin, KeyValidation, the gateway and the demo upstream,
/// with the resources' output in a file (<see cref="ResourceLogs"/>). Also what both ask of it once it runs: each
/// replica's own address and health, a credentialed gRPC channel, the process behind a resource and a freeze of it.
/// </summary>
public sealed class KeysHost : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private const string AdminTokenVariable = "Parameters__admin-token";

    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan HealthProbeTimeout = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan PollPause = TimeSpan.FromMilliseconds(100);

    private readonly KeysHostOptions _options;

    private KeysHost(KeysHostOptions options)
    {
        _options = options;
        DataDirectory = Directory.CreateTempSubdirectory($"keys-{options.Name}-");
        Logs = options.Logs ?? new ResourceLogs(options.Name, ApplicationName);
    }

    /// <summary>The AppHost's assembly name, which prefixes its resources' log categories (<see cref="ResourceLogs"/>).</summary>
    public static string ApplicationName { get; } = typeof(Projects.Keys_AppHost).Assembly.GetName().Name!;

    public DistributedApplication App { get; private set; } = null!;

    public DirectoryInfo DataDirectory { get; }

    public ResourceLogs Logs { get; }

    public string AdminToken => _options.AdminToken;

    /// <summary>The host's own credential for KeyValidation, under <see cref="KeysHostOptions.CallerName"/>.</summary>
    public string CallerToken { get; } = NewToken();

    /// <summary>A random token of 48 hex digits: as long as the AppHost asks of a chosen one, and more.</summary>
    public static string NewToken() => Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    /// <summary>
    /// Starts the system and returns once the gateway is healthy. On failure it leaves nothing running, and says where
    /// the resources' logs are, which tell why.
    /// </summary>
    public static async Task<KeysHost> StartAsync(KeysHostOptions options)
    {
        var host = new KeysHost(options);
        try
        {
            await host.StartAsync();
            return host;
        }
        catch (Exception ex)
        {
            await host.DisposeAsync();
            throw new InvalidOperationException($"The system did not start ({ex.Message}); its resources' logs are in {host.Logs.RelativePath}.", ex);
        }
    }

    /// <summary>How many replicas the app model runs of a resource.</summary>
    public int ReplicaCount(string name) =>
        App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == name)
            .TryGetLastAnnotation<ReplicaAnnotation>(out var replicas) ? replicas.Replicas : 1;

    /// <summary>
    /// The address of an endpoint on each running replica of a resource, bypassing the proxy DCP puts in front of
    /// them, so that each can be asked in turn. Waits (within the start timeout) until that many replicas run.
    /// </summary>
    public async Task<IReadOnlyList<Uri>> ReplicaAddressesAsync(string name, string endpoint, int? replicas = null)
    {
        var wanted = replicas ?? ReplicaCount(name);
        var addresses = new Dictionary<string, Uri>();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.ResourceNotifications.WaitForResourceAsync(
            name,
            e =>
            {
                var url = e.Snapshot.EnvironmentVariables.FirstOrDefault(v => v.Name == $"Kestrel__Endpoints__{endpoint}__Url")?.Value;
                if (url is not null && e.Snapshot.State?.Text == KnownResourceStates.Running)
                {
                    addresses[e.ResourceId] = new Uri(url.Replace("://*", "://localhost", StringComparison.Ordinal));
                }
                else
                {
                    addresses.Remove(e.ResourceId);
                }

                return addresses.Count >= wanted;
            },
            timeout.Token);
        return [.. addresses.Values];
    }

    /// <summary>One replica's own address (the first), for a client that must not go through DCP's proxy.</summary>
    public async Task<Uri> DirectAddressAsync(string name, string endpoint) => (await ReplicaAddressesAsync(name, endpoint))[0];

    /// <summary>
    /// True once every replica of a service answers 200 on its own <c>/health</c> (every readiness check, migrations
    /// included). Asking through the proxy would let one healthy replica hide another that is still starting.
    /// </summary>
    public async Task<bool> ReplicasHealthyAsync(string name, CancellationToken cancellationToken)
    {
        foreach (var address in await ReplicaAddressesAsync(name, "http"))
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

    /// <summary>Returns once <paramref name="condition"/> holds, asking again after a short pause, until <paramref name="cancellationToken"/>.</summary>
    public static async Task UntilAsync(Func<CancellationToken, Task<bool>> condition, CancellationToken cancellationToken)
    {
        while (!await condition(cancellationToken))
        {
            await Task.Delay(PollPause, cancellationToken);
        }
    }

    /// <summary>
    /// A gRPC channel to an internal service that presents <paramref name="token"/> (default: the host's own
    /// KeyValidation credential) on every call; null presents none.
    /// </summary>
    public GrpcChannel ServiceChannel(Uri address, string? token = "")
    {
        HttpMessageHandler handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        token = token == "" ? CallerToken : token;
        if (token is not null)
        {
            handler = new ServiceAuth.ServiceCredentialHandler(token) { InnerHandler = handler };
        }

        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    /// <summary>
    /// The operating-system process that serves a running resource (or one replica of it), after checking that it runs
    /// that resource's program. The snapshot's <c>executable.pid</c> is what DCP launched: the server itself for an
    /// executable such as redis-server, but <c>dotnet run</c> for a project, whose child is the service. Signalling
    /// <c>dotnet run</c> would leave the service running, orphaned, on its port.
    /// </summary>
    public async Task<int> ProcessIdAsync(string name, string? replicaId = null)
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

            await Task.Delay(PollPause, CancellationToken.None);
        }
    }

    /// <summary>
    /// Freezes a resource's process (SIGSTOP) while <paramref name="whileFrozen"/> runs, and always lets it go on
    /// (SIGCONT) afterwards: when <paramref name="whileFrozen"/> throws, and when this process is interrupted (Ctrl+C,
    /// SIGTERM), so that nothing is ever left frozen for what runs next.
    /// </summary>
    public async Task FreezeAsync(string name, Func<Task> whileFrozen)
    {
        var pid = await ProcessIdAsync(name);
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => ProcessSignals.SendIfAlive(pid, ProcessSignals.Continue));
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => ProcessSignals.SendIfAlive(pid, ProcessSignals.Continue));
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

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        if (_options.Logs is null)
        {
            Logs.Dispose();
        }

        DataDirectory.Delete(recursive: true);
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

    private async Task StartAsync()
    {
        var previousToken = Environment.GetEnvironmentVariable(AdminTokenVariable);
        if (_options.AdminTokenInEnvironment)
        {
            Environment.SetEnvironmentVariable(AdminTokenVariable, AdminToken);
        }

        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Keys_AppHost>(
                [.. Arguments()],
                (app, host) =>
                {
                    app.DisableDashboard = !_options.Dashboard;
                    host.EnvironmentName = _options.EnvironmentName ?? host.EnvironmentName;
                });
            builder.Services.AddLogging(Logs.AddTo);
            foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
            {
                var resource = builder.CreateResourceBuilder(project);
                if (!_options.Dashboard)
                {
                    // Services are still pointed at the dashboard's OTLP endpoint; exporting to nothing would hold every
                    // shutdown (and so every stop and restart a test makes) for the exporter's 10 s timeout, and add
                    // noise to measurements.
                    resource.WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
                }

                if (_options.RequestLogs)
                {
                    // The endpoint a request runs names its route template, never the path sent, which may hold a key
                    // pasted where an id belongs (ASP.NET Core's request log would write it). The gateway forwards
                    // only requests whose key passed.
                    resource.WithEnvironment(
                        project.Name == "gateway" ? "Logging__LogLevel__Yarp.ReverseProxy.Forwarder" : "Logging__LogLevel__Microsoft.AspNetCore.Routing.EndpointMiddleware",
                        "Information");
                }

                foreach (var (_, variable, value) in _options.Environment.Where(e => e.Resource == project.Name))
                {
                    resource.WithEnvironment(variable, value);
                }
            }

            builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "key-validation"))
                .WithEnvironment($"ServiceAuth__Callers__{_options.CallerName}", CallerToken);
            _options.Configure?.Invoke(builder);

            App = await builder.BuildAsync();
            using var timeout = new CancellationTokenSource(StartTimeout);
            await App.StartAsync(timeout.Token);
            await App.ResourceNotifications.WaitForResourceHealthyAsync("gateway", timeout.Token);
        }
        finally
        {
            if (_options.AdminTokenInEnvironment)
            {
                Environment.SetEnvironmentVariable(AdminTokenVariable, previousToken);
            }
        }
    }

    private IEnumerable<string> Arguments()
    {
        yield return "Keys:Infrastructure=local";
        yield return $"Keys:Replicas:KeyValidation={_options.KeyValidationReplicas}";
        yield return $"Keys:Replicas:Gateway={_options.GatewayReplicas}";
        yield return $"Keys:DataDirectory={DataDirectory.FullName}";
        if (!_options.AdminTokenInEnvironment)
        {
            yield return $"Parameters:admin-token={AdminToken}";
        }

        if (_options.KeyValidationToken is { } keyValidationToken)
        {
            yield return $"Parameters:key-validation-token={keyValidationToken}";
        }

        if (_options.GatewayToken is { } gatewayToken)
        {
            yield return $"Parameters:gateway-token={gatewayToken}";
        }

        foreach (var argument in _options.Arguments)
        {
            yield return argument;
        }
    }
}
