using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using StackExchange.Redis;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// A Redis Sentinel deployment of its own, as child processes of the tests (Debian's <c>redis-server</c>, which runs as
/// a Sentinel with <c>--sentinel</c>): one primary, one replica, three Sentinels (quorum 2), all on loopback with one
/// password, on free ports, in a temporary folder; each server's log goes to <c>artifacts/logs</c>. Sentinels call a
/// primary down after <see cref="DownAfter"/>, so a failover takes seconds. Disposing it kills every process it started
/// (a frozen one is let go first) and removes the folder; so does this process ending.
/// </summary>
public sealed class RedisSentinelSet : IAsyncDisposable
{
    public const string ServiceName = "keys";

    public static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan PollPause = TimeSpan.FromMilliseconds(100);

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("keys-sentinel-");
    private readonly string _logPrefix = Path.Combine(
        Repository.Artifacts("logs").FullName, $"sentinel-{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-");
    private readonly string _password = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
    private readonly Dictionary<int, Process> _processes = [];
    private readonly List<int> _sentinelPorts = [];
    private readonly HashSet<int> _frozen = [];

    private RedisSentinelSet()
    {
        AppDomain.CurrentDomain.ProcessExit += KillAll;
    }

    /// <summary>The port of the server that was the primary when the set started.</summary>
    public int FirstPrimaryPort { get; private set; }

    /// <summary>The port of the server that was its replica when the set started.</summary>
    public int FirstReplicaPort { get; private set; }

    /// <summary>What every service is given as <c>ConnectionStrings:redis</c>: the Sentinels and the service name.</summary>
    public string ConnectionString =>
        string.Join(',', _sentinelPorts.Select(p => $"127.0.0.1:{p}")) + $",serviceName={ServiceName},password={_password}";

    /// <summary>The password of every server and Sentinel in the set.</summary>
    public string Password => _password;

    /// <summary>Where the servers' logs are, relative to the repository.</summary>
    public string LogPaths => Path.GetRelativePath(Repository.Root, _logPrefix) + "*.log";

    public static async Task<RedisSentinelSet> StartAsync()
    {
        var set = new RedisSentinelSet();
        try
        {
            set.Start();
            return set;
        }
        catch
        {
            await set.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Returns once the Sentinels could fail over: every one of them knows the replica and the two other Sentinels (they
    /// learn them from the primary's INFO every 10 s and from each other's hellos), and the replica has synced.
    /// </summary>
    public async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        while (!await ReadyAsync())
        {
            await Task.Delay(PollPause, cancellationToken);
        }
    }

    /// <summary>The port of the server the Sentinels name as primary now (asked of the first that answers).</summary>
    public async Task<int?> PrimaryPortAsync()
    {
        foreach (var port in _sentinelPorts)
        {
            try
            {
                await using var sentinel = await ConnectToSentinelAsync(port);
                if (await sentinel.GetServer("127.0.0.1", port).SentinelGetMasterAddressByNameAsync(ServiceName) is IPEndPoint primary)
                {
                    return primary.Port;
                }
            }
            catch (RedisException)
            {
            }
        }

        return null;
    }

    /// <summary>A connection to one server of the set (not through Sentinel), with admin commands allowed.</summary>
    public Task<ConnectionMultiplexer> ConnectAsync(int port) =>
        ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},password={_password},allowAdmin=true,abortConnect=false,connectTimeout=2000");

    /// <summary>Stops a server's process (SIGSTOP): it reads nothing from its primary until <see cref="Thaw"/>.</summary>
    public void Freeze(int port)
    {
        _frozen.Add(port);
        Signal(port, ProcessSignals.Stop);
    }

    public void Thaw(int port)
    {
        Signal(port, ProcessSignals.Continue);
        _frozen.Remove(port);
    }

    /// <summary>Kills a server at once (SIGKILL): whatever it had not sent its replica is lost.</summary>
    public void Kill(int port) => Signal(port, ProcessSignals.Kill);

    public ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillAll;
        KillAll(null, EventArgs.Empty);
        foreach (var process in _processes.Values)
        {
            process.WaitForExit(TimeSpan.FromSeconds(10));
            process.Dispose();
        }

        _directory.Delete(recursive: true);
        return ValueTask.CompletedTask;
    }

    private void Start()
    {
        FirstPrimaryPort = FreePort();
        FirstReplicaPort = FreePort();
        var common = $"""
            bind 127.0.0.1
            protected-mode no
            requirepass {_password}
            masterauth {_password}
            save ""
            appendonly no
            dir {_directory.FullName}
            """;
        Run("primary", FirstPrimaryPort, $"{common}\nport {FirstPrimaryPort}\n");
        Run("replica", FirstReplicaPort, $"{common}\nport {FirstReplicaPort}\nreplicaof 127.0.0.1 {FirstPrimaryPort}\n");
        for (var i = 1; i <= 3; i++)
        {
            var port = FreePort();
            _sentinelPorts.Add(port);
            Run($"sentinel{i}", port, $"""
                bind 127.0.0.1
                protected-mode no
                port {port}
                dir {_directory.FullName}
                requirepass {_password}
                sentinel monitor {ServiceName} 127.0.0.1 {FirstPrimaryPort} 2
                sentinel auth-pass {ServiceName} {_password}
                sentinel down-after-milliseconds {ServiceName} {(int)DownAfter.TotalMilliseconds}
                sentinel failover-timeout {ServiceName} 5000
                sentinel parallel-syncs {ServiceName} 1

                """, sentinel: true);
        }
    }

    // Each server reads its own file (the password stays off command lines), which a Sentinel also rewrites.
    private void Run(string name, int port, string config, bool sentinel = false)
    {
        var configPath = Path.Combine(_directory.FullName, $"{name}.conf");
        File.WriteAllText(configPath, $"{config}\nlogfile {_logPrefix}{name}.log\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(configPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, WorkingDirectory = _directory.FullName };
        start.ArgumentList.Add(configPath);
        if (sentinel)
        {
            start.ArgumentList.Add("--sentinel");
        }

        _processes[port] = Process.Start(start) ?? throw new InvalidOperationException($"redis-server ({name}) did not start.");
    }

    private async Task<bool> ReadyAsync()
    {
        try
        {
            foreach (var port in _sentinelPorts)
            {
                await using var sentinel = await ConnectToSentinelAsync(port);
                var server = sentinel.GetServer("127.0.0.1", port);
                if ((await server.SentinelReplicasAsync(ServiceName)).Length < 1 || (await server.SentinelSentinelsAsync(ServiceName)).Length < 2)
                {
                    return false;
                }
            }

            await using var replica = await ConnectAsync(FirstReplicaPort);
            var info = await replica.GetServer("127.0.0.1", FirstReplicaPort).InfoRawAsync("replication");
            return info?.Contains("master_link_status:up", StringComparison.Ordinal) == true;
        }
        catch (RedisException)
        {
            return false;
        }
    }

    // A Sentinel speaks only its own commands: a plain connection fails to set itself up on one.
    private Task<ConnectionMultiplexer> ConnectToSentinelAsync(int port) =>
        ConnectionMultiplexer.SentinelConnectAsync($"127.0.0.1:{port},password={_password},abortConnect=false,connectTimeout=2000");

    private void Signal(int port, int signal)
    {
        if (_processes.TryGetValue(port, out var process) && !process.HasExited)
        {
            ProcessSignals.SendIfAlive(process.Id, signal);
        }
    }

    private void KillAll(object? sender, EventArgs e)
    {
        foreach (var (port, process) in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    if (_frozen.Contains(port))
                    {
                        ProcessSignals.SendIfAlive(process.Id, ProcessSignals.Continue);
                    }

                    process.Kill();
                }
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
