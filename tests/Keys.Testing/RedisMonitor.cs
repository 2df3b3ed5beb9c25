using System.Net.Sockets;
using System.Text;

namespace Keys.Testing;

/// <summary>
/// Redis's MONITOR on a connection of its own: every command any client sends, as Redis saw it. Counting commands
/// that name Keys' records this way is immune to the bookkeeping traffic of clients (handshakes, health pings).
/// </summary>
public sealed class RedisMonitor : IAsyncDisposable
{
    private readonly TcpClient _client = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<string> _lines = [];
    private Task _reading = Task.CompletedTask;

    public static async Task<RedisMonitor> StartAsync(string connectionString)
    {
        // The AppHost's connection strings read "host:port,password=…".
        var parts = connectionString.Split(',');
        var hostPort = parts[0].Split(':');
        var password = parts.FirstOrDefault(p => p.StartsWith("password=", StringComparison.Ordinal))?["password=".Length..];

        var monitor = new RedisMonitor();
        await monitor._client.ConnectAsync(hostPort[0], int.Parse(hostPort[1], System.Globalization.CultureInfo.InvariantCulture));
        var stream = monitor._client.GetStream();
        var reader = new StreamReader(stream, Encoding.UTF8);
        var commands = password is null ? "MONITOR\r\n" : $"AUTH {password}\r\nMONITOR\r\n";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(commands));
        for (var expected = password is null ? 1 : 2; expected > 0; expected--)
        {
            var reply = await reader.ReadLineAsync();
            if (reply != "+OK")
            {
                throw new InvalidOperationException($"Redis refused MONITOR: {reply}");
            }
        }

        monitor._reading = Task.Run(async () =>
        {
            while (await reader.ReadLineAsync(monitor._stop.Token) is { } line)
            {
                lock (monitor._lines)
                {
                    monitor._lines.Add(line);
                }
            }
        });
        return monitor;
    }

    /// <summary>Commands seen so far whose text contains <paramref name="fragment"/>.</summary>
    public int Count(string fragment)
    {
        lock (_lines)
        {
            return _lines.Count(l => l.Contains(fragment, StringComparison.Ordinal));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _client.Dispose();
        try
        {
            await _reading;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }
}
