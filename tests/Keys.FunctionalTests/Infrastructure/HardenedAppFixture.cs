using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// The system started the way an operator starts it, for the tests of what it keeps to itself: with the dashboard
/// (which the testing builder otherwise leaves out), and with the operator token given to the AppHost as the
/// environment variable <c>Parameters__admin-token</c>, the way the README used to say. The AppHost runs inside the
/// test process, so that variable is set on the test process while the app starts, and put back afterwards; the
/// collection runs on its own, so that no other app starts in that time.
/// </summary>
public sealed class HardenedAppFixture(IMessageSink diagnostics) : IAsyncLifetime
{
    public const int Replicas = 2;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private readonly ConcurrentQueue<string> _appHostLog = new();

    public KeysHost Host { get; private set; } = null!;

    public DistributedApplication App => Host.App;

    public string AdminToken => Host.AdminToken;

    public string DataDirectory => Host.DataDirectory.FullName;

    /// <summary>What the AppHost itself logged at Information and above (Aspire's own messages, not the resources').</summary>
    public IReadOnlyCollection<string> AppHostLog => _appHostLog;

    public async Task InitializeAsync()
    {
        Host = await KeysHost.StartAsync(new KeysHostOptions
        {
            Name = "hardened",
            AdminToken = "env-" + KeysHost.NewToken(),
            AdminTokenInEnvironment = true,
            KeyValidationReplicas = Replicas,
            GatewayReplicas = Replicas,
            Dashboard = true,
            Arguments =
            [
                // The launch profile's fixed dashboard ports would collide with a `./keys run` on the same machine
                // (DCP moves the dashboard's own endpoints in tests; the resource service, empty here, takes any port).
                $"ASPNETCORE_URLS=http://localhost:{FreePort()}",
                $"ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://localhost:{FreePort()}",
                "ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL=",
            ],
            Configure = builder =>
            {
                builder.Services.AddSingleton<ILoggerProvider>(new QueueLoggerProvider(_appHostLog));
                builder.Services.AddLogging(logging => logging.AddFilter<QueueLoggerProvider>("Aspire.Hosting.DistributedApplication", LogLevel.Information));
            },
        });
        diagnostics.OnMessage(new DiagnosticMessage($"{nameof(HardenedAppFixture)}: resource logs in {Host.Logs.RelativePath}"));
    }

    /// <summary>The dashboard's address, as DCP allocated it.</summary>
    public Uri DashboardAddress => new(App.GetEndpoint("aspire-dashboard", "http").GetLeftPart(UriPartial.Authority));

    /// <summary>The running snapshot of every instance (replica) of a resource; none for one that has finished.</summary>
    public async Task<IReadOnlyList<ResourceEvent>> RunningInstancesAsync(IResource resource)
    {
        var replicas = resource.TryGetLastAnnotation<ReplicaAnnotation>(out var annotation) ? annotation.Replicas : 1;
        var latest = new Dictionary<string, ResourceEvent>();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.ResourceNotifications.WaitForResourceAsync(
            resource.Name,
            e =>
            {
                latest[e.ResourceId] = e;
                return latest.Count >= replicas && latest.Values.All(IsSettled);
            },
            timeout.Token);
        return [.. latest.Values.Where(e => e.Snapshot.State?.Text == KnownResourceStates.Running)];

        // Not started: a resource that only runs on demand (Aspire's rebuilder of a project) has no process.
        static bool IsSettled(ResourceEvent e) =>
            (e.Snapshot.State?.Text == KnownResourceStates.Running && Property(e, "executable.pid") is not null)
            || e.Snapshot.State?.Text == KnownResourceStates.NotStarted
            || KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text);
    }

    /// <summary>
    /// Every process that each running resource instance consists of, by pid: what DCP launched (for a project,
    /// <c>dotnet run</c>) and everything under it (the service itself, Postgres's backends).
    /// </summary>
    public async Task<IReadOnlyDictionary<int, string>> ResourceProcessesAsync()
    {
        var owners = new Dictionary<int, string>();
        var model = App.Services.GetRequiredService<DistributedApplicationModel>();
        foreach (var resource in model.Resources.Where(r => r is ExecutableResource or ProjectResource))
        {
            foreach (var instance in await RunningInstancesAsync(resource))
            {
                var pending = new Stack<int>([Convert.ToInt32(Property(instance, "executable.pid"), CultureInfo.InvariantCulture)]);
                while (pending.TryPop(out var pid))
                {
                    owners[pid] = resource.Name;
                    foreach (var child in ProcessSignals.Children(pid))
                    {
                        pending.Push(child);
                    }
                }
            }
        }

        return owners;
    }

    /// <summary>A value of an environment variable the app model gave a running resource instance.</summary>
    public async Task<string> EnvironmentOfAsync(string resourceName, string variable)
    {
        var model = App.Services.GetRequiredService<DistributedApplicationModel>();
        var instance = (await RunningInstancesAsync(model.Resources.Single(r => r.Name == resourceName)))[0];
        return instance.Snapshot.EnvironmentVariables.Single(v => v.Name == variable).Value
            ?? throw new InvalidOperationException($"{resourceName} has no value for {variable}.");
    }

    public async Task DisposeAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }
    }

    private static object? Property(ResourceEvent resourceEvent, string name) =>
        resourceEvent.Snapshot.Properties.FirstOrDefault(p => p.Name == name)?.Value;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class QueueLoggerProvider(ConcurrentQueue<string> queue) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new QueueLogger(queue);

        public void Dispose()
        {
        }
    }

    private sealed class QueueLogger(ConcurrentQueue<string> queue) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            queue.Enqueue(formatter(state, exception));
    }
}

/// <summary>
/// Runs alone, after the collections that run in parallel: its fixture sets an environment variable on the test
/// process while its app starts, which an app starting at the same time would inherit.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HardenedAppCollection : ICollectionFixture<HardenedAppFixture>
{
    public const string Name = "Keys system, as an operator starts it";
}
