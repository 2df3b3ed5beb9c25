using System.Net;
using System.Net.Sockets;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// HTTP clients whose connections come from chosen loopback addresses (127.x.y.z all reach this machine), as if they
/// were other machines: the gateway throttles each client address, so tests that are refused many times spread
/// themselves over several.
/// </summary>
public static class LoopbackClients
{
    /// <summary>A client whose connections come from <paramref name="local"/>.</summary>
    public static HttpClient ClientFrom(IPAddress local, Uri baseAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(IPAddress.Loopback, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = baseAddress,
    };

    /// <summary>
    /// <paramref name="count"/> loopback addresses 127.0.<paramref name="subnet"/>.1 onwards: a test takes a subnet
    /// of its own, so that what it is refused never counts against another test's addresses.
    /// </summary>
    public static IReadOnlyList<IPAddress> Addresses(int subnet, int count) =>
        [.. Enumerable.Range(1, count).Select(host => new IPAddress([127, 0, (byte)subnet, (byte)host]))];
}

/// <summary>
/// Clients of one base address from several loopback addresses, handed out in turn, so that refusals spread over
/// them and none reaches the gateway's per-address limit.
/// </summary>
public sealed class LoopbackClientPool(Uri baseAddress, IReadOnlyList<IPAddress> locals) : IDisposable
{
    private readonly HttpClient[] _clients = [.. locals.Select(local => LoopbackClients.ClientFrom(local, baseAddress))];
    private int _next = -1;

    public HttpClient Next() => _clients[(int)((uint)Interlocked.Increment(ref _next) % _clients.Length)];

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }
}
