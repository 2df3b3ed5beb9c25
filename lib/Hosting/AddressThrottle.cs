using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Keys.Hosting;

/// <summary>
/// A budget of attempts per client address and fixed window, taken by reservation: <see cref="TryReserve"/> takes a
/// permit before the work an attacker must not get for free (a key lookup, an admin-token check), and
/// <see cref="Refund"/> gives it back once the attempt has proved legitimate.
/// </summary>
/// <remarks>
/// <para>
/// Reserving first is what makes the limit hold under concurrency. Checking the count and recording a failure
/// afterwards lets N concurrent attempts all pass the check before the first one is recorded.
/// </para>
/// <para>
/// Addresses are grouped the way one client controls them: IPv4 by address (an IPv4-mapped IPv6 address is its IPv4
/// address), IPv6 by /64, the smallest block a site is handed, so that rotating through it gains nothing. A null
/// address (no IP transport) is a partition of its own.
/// </para>
/// <para>
/// Memory is bounded whatever the number of addresses: at most <c>maxPartitions</c> are tracked, beyond which new
/// addresses share one overflow partition with the same limit, and windows that have ended are swept once per window.
/// One lock guards everything: each call is a dictionary lookup and integer arithmetic, no allocation once an
/// address is tracked.
/// </para>
/// </remarks>
public sealed class AddressThrottle
{
    public const int DefaultMaxPartitions = 100_000;

    // Partition keys: an IPv6 /64 in the high 64 bits (low bits zero); IPv4 and "no address" in the low bits, tagged
    // so that they can never equal an IPv6 key.
    private const ulong IPv4Tag = 1UL << 32;
    private static readonly UInt128 NoAddress = 2UL << 32;

    private readonly Dictionary<UInt128, Partition> _partitions = [];
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly long _windowLength;
    private readonly int _maxPartitions;
    private Partition _overflow;
    private long _nextSweep;

    public AddressThrottle(int limit, TimeSpan window, TimeProvider time, int maxPartitions = DefaultMaxPartitions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPartitions, 1);
        Limit = limit;
        Window = window;
        _time = time;
        _maxPartitions = maxPartitions;
        _windowLength = Math.Max(1, (long)(window.TotalSeconds * time.TimestampFrequency));
        _nextSweep = time.GetTimestamp() + _windowLength;
    }

    /// <summary>Permits per partition and window.</summary>
    public int Limit { get; }

    public TimeSpan Window { get; }

    /// <summary>
    /// What to tell a refused client to wait: a whole window, which is never shorter than what is left of the one
    /// that refused it.
    /// </summary>
    public TimeSpan RetryAfter => Window;

    /// <summary>Addresses (or /64s) tracked now, the overflow partition aside.</summary>
    public int TrackedPartitions
    {
        get
        {
            lock (_gate)
            {
                return _partitions.Count;
            }
        }
    }

    /// <summary>Takes a permit from the address's budget; false, and nothing taken, when it is spent for this window.</summary>
    public bool TryReserve(IPAddress? address)
    {
        var key = PartitionOf(address);
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (now >= _nextSweep)
            {
                Sweep(now);
            }

            ref var window = ref CollectionsMarshal.GetValueRefOrNullRef(_partitions, key);
            if (Unsafe.IsNullRef(ref window))
            {
                if (_partitions.Count >= _maxPartitions)
                {
                    return TryTake(ref _overflow, now);
                }

                window = ref CollectionsMarshal.GetValueRefOrAddDefault(_partitions, key, out _);
            }

            return TryTake(ref window, now);
        }
    }

    /// <summary>
    /// Gives back a permit that <see cref="TryReserve"/> took, once the attempt proved legitimate. A count never goes
    /// below zero; a refund that arrives after its window ended goes to the next one, which can gain no more than the
    /// attempts in flight at that moment.
    /// </summary>
    public void Refund(IPAddress? address)
    {
        var key = PartitionOf(address);
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            ref var window = ref CollectionsMarshal.GetValueRefOrNullRef(_partitions, key);
            if (!Unsafe.IsNullRef(ref window))
            {
                Give(ref window, now);
            }
            else if (_partitions.Count >= _maxPartitions)
            {
                // Untracked while the table is full: its permit came from the overflow partition.
                Give(ref _overflow, now);
            }
        }
    }

    /// <summary>The partition an address counts against: itself for IPv4, its /64 for IPv6.</summary>
    private static UInt128 PartitionOf(IPAddress? address)
    {
        if (address is null)
        {
            return NoAddress;
        }

        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written))
        {
            return NoAddress;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork && written == 4)
        {
            return IPv4Tag | BinaryPrimitives.ReadUInt32BigEndian(bytes);
        }

        // ::ffff:a.b.c.d is a.b.c.d: a dual-stack socket must not give IPv4 clients a second budget.
        if (address.IsIPv4MappedToIPv6)
        {
            return IPv4Tag | BinaryPrimitives.ReadUInt32BigEndian(bytes[12..]);
        }

        return (UInt128)BinaryPrimitives.ReadUInt64BigEndian(bytes) << 64;
    }

    private bool TryTake(ref Partition window, long now)
    {
        // A window starts at the first permit taken in it.
        if (window.Used == 0 || now - window.Start >= _windowLength)
        {
            window.Start = now;
            window.Used = 0;
        }

        if (window.Used >= Limit)
        {
            return false;
        }

        window.Used++;
        return true;
    }

    private void Give(ref Partition window, long now)
    {
        if (window.Used > 0 && now - window.Start < _windowLength)
        {
            window.Used--;
        }
    }

    // Once per window, so that its cost (one pass under the lock) is spread thin: what is left after a sweep ends
    // within a window, and the next sweep removes it.
    private void Sweep(long now)
    {
        foreach (var (key, window) in _partitions)
        {
            if (now - window.Start >= _windowLength)
            {
                _partitions.Remove(key);
            }
        }

        _nextSweep = now + _windowLength;
    }

    private struct Partition
    {
        public long Start;
        public int Used;
    }
}
