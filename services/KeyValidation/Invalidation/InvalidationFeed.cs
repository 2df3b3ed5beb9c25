using System.Threading.Channels;
using Keys.ApiKeys;
using Keys.KeyValidation.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// What this replica knows about KeyAdmin's stream of changes: the last outbox sequence applied here, whether that is
/// known to be current, and the <c>Watch</c> clients that follow it. Invalidations are applied strictly in sequence
/// (memory and watchers at once; Redis is brought up to date separately by <see cref="RedisSync"/>), so a gap is
/// never skipped over: whoever meets one catches up from KeyAdmin first. An invalidation of a whole project is applied
/// as a flush at its sequence.
/// </summary>
public sealed class InvalidationFeed(LocalRecordCache local, IOptions<KeyValidationOptions> options, TimeProvider time)
{
    private readonly int _replayCapacity = options.Value.WatchReplayCapacity;
    private readonly int _watchBufferCapacity = Math.Max(options.Value.WatchBufferCapacity, options.Value.WatchReplayCapacity + 1);
    private readonly TimeSpan _confirmationTimeout = options.Value.ConfirmationTimeout;

    private readonly Lock _gate = new();
    private readonly Queue<KeyInvalidation> _recent = new();
    private readonly List<Watcher> _watchers = [];
    private long _applied;
    private bool _current;
    // A TimeProvider timestamp; -1: never confirmed.
    private long _confirmedAt = -1;
    private long _watcherFlushes;

    /// <summary>Fires after each invalidation applied here (under no lock), so that Redis can be brought up to date.</summary>
    public event Action? Applied;

    /// <summary>The highest sequence applied here; every earlier one was applied too.</summary>
    public long AppliedSequence => Volatile.Read(ref _applied);

    /// <summary>
    /// KeyAdmin confirmed recently (within <c>ConfirmationTimeout</c>) that nothing past <see cref="AppliedSequence"/>
    /// exists, or only what has been applied since. While this holds, Watch streams vouch for what they delivered;
    /// once it lapses (KeyAdmin unreachable, the catch-up failing) they are ended, so that no gateway keeps a cache
    /// that nobody keeps exact.
    /// </summary>
    public bool IsVouching => Volatile.Read(ref _confirmedAt) is var confirmed and >= 0 && time.GetElapsedTime(confirmed) <= _confirmationTimeout;

    /// <summary>
    /// Vouching, and no gap or lost subscription noticed since the last confirmation: this replica's own caches may
    /// answer. Otherwise lookups go to KeyAdmin.
    /// </summary>
    public bool IsCurrent => Volatile.Read(ref _current) && IsVouching;

    /// <summary>How long ago KeyAdmin last confirmed this replica is current; null before the first time.</summary>
    public TimeSpan? SinceConfirmed => Volatile.Read(ref _confirmedAt) is var confirmed and >= 0 ? time.GetElapsedTime(confirmed) : null;

    /// <summary>Watch clients that fell so far behind that their backlog was replaced by a flush.</summary>
    public long WatcherFlushes => Interlocked.Read(ref _watcherFlushes);

    public void MarkUncertain()
    {
        lock (_gate)
        {
            _current = false;
        }
    }

    /// <summary>
    /// Whether an invalidation names what it covers: one key (a 32-byte hash), or a whole project (and no key).
    /// </summary>
    public static bool IsWellFormed(KeyInvalidation invalidation) =>
        CoversProject(invalidation) ? invalidation.KeyHash.IsEmpty : invalidation.KeyHash.Length == KeyHash.Length;

    /// <summary>The invalidation covers every key of a project rather than one key.</summary>
    public static bool CoversProject(KeyInvalidation invalidation) => invalidation.ProjectId.Length > 0;

    /// <summary>
    /// Applies the next invalidation: drops it from memory and sends it to watchers; one that covers a whole project
    /// empties memory and sends watchers a flush at its sequence instead, since neither can find a project's keys
    /// (Redis is <see cref="RedisSync"/>'s: it ends the epoch). An already applied one is ignored; one past the next
    /// (a gap) is refused, and the caller must catch up from KeyAdmin.
    /// </summary>
    public bool TryApply(KeyInvalidation invalidation) => TryApply(invalidation, out _);

    /// <inheritdoc cref="TryApply(KeyInvalidation)"/>
    /// <param name="applied">True when this call applied it: not when it had been applied already.</param>
    public bool TryApply(KeyInvalidation invalidation, out bool applied)
    {
        applied = false;
        lock (_gate)
        {
            if (invalidation.Sequence <= _applied)
            {
                return true;
            }

            if (invalidation.Sequence != _applied + 1)
            {
                return false;
            }

            if (CoversProject(invalidation))
            {
                // Watchers are never sent it: a client that reconnects from before it is told to flush, as the
                // replay queue starts after it.
                FlushCore(invalidation.Sequence);
            }
            else
            {
                local.Remove(KeyHash.From(invalidation.KeyHash.Span));
                Volatile.Write(ref _applied, invalidation.Sequence);
                _recent.Enqueue(invalidation);
                if (_recent.Count > _replayCapacity)
                {
                    _recent.Dequeue();
                }

                Broadcast(new WatchEvent { Invalidation = invalidation });
            }
        }

        applied = true;
        Applied?.Invoke();
        return true;
    }

    /// <summary>KeyAdmin says <paramref name="head"/> is its latest change: if it is applied here, this replica is current.</summary>
    public bool Confirm(long head)
    {
        lock (_gate)
        {
            if (_applied < head)
            {
                return false;
            }

            _current = true;
            Volatile.Write(ref _confirmedAt, time.GetTimestamp());
            return true;
        }
    }

    /// <summary>
    /// Caches a record a lookup loaded, if it reflects every invalidation applied here (<paramref name="reflectsUpTo"/>
    /// is the sequence the answer is as of). Checked and written under the same lock as <see cref="TryApply"/>, so that
    /// an invalidation cannot land between the check and the write and leave the stale record behind.
    /// </summary>
    public void CacheLoaded(KeyHash hash, KeyRecord? record, long reflectsUpTo)
    {
        lock (_gate)
        {
            if (_current && _applied <= reflectsUpTo)
            {
                local.Set(hash, record);
            }
        }
    }

    /// <summary>
    /// Forgets everything cached here, and tells watchers to do the same, continuing from <paramref name="sequence"/>:
    /// at start (from KeyAdmin's head), and when cached answers may have come from a Redis that lost track.
    /// </summary>
    public void Flush(long sequence)
    {
        lock (_gate)
        {
            FlushCore(sequence);
        }
    }

    /// <inheritdoc cref="Flush(long)"/>
    public void Flush()
    {
        lock (_gate)
        {
            FlushCore(_applied);
        }
    }

    /// <summary>
    /// Tells watchers to forget what they cached and carry on from the current sequence, while this replica keeps its
    /// own cache: an operator's flush of the gateways' near caches.
    /// </summary>
    public void FlushWatchers()
    {
        lock (_gate)
        {
            Broadcast(new WatchEvent { Flush = new Flush { Sequence = _applied } });
        }
    }

    /// <summary>
    /// A watcher's stream: a heartbeat at the current sequence for a new client (<paramref name="fromSequence"/> 0),
    /// the invalidations after <paramref name="fromSequence"/> when they can be replayed, or a flush when they cannot;
    /// then every new one as it is applied. Null while this replica is not vouching: it has nothing to offer.
    /// </summary>
    public Watcher? Subscribe(long fromSequence)
    {
        lock (_gate)
        {
            if (!IsVouching)
            {
                return null;
            }

            var oldest = _recent.Count > 0 ? _recent.Peek().Sequence : _applied + 1;
            Watcher watcher;
            if (fromSequence == 0 || fromSequence == _applied)
            {
                watcher = new Watcher(_watchBufferCapacity, _applied);
                watcher.Send(new WatchEvent { Heartbeat = new Heartbeat { Sequence = _applied } }, null);
            }
            else if (fromSequence < _applied && fromSequence + 1 >= oldest)
            {
                watcher = new Watcher(_watchBufferCapacity, fromSequence);
                foreach (var invalidation in _recent.Where(i => i.Sequence > fromSequence))
                {
                    watcher.Send(new WatchEvent { Invalidation = invalidation }, null);
                }
            }
            else
            {
                // Too old to replay, or ahead of this replica (it was following another one): start over.
                watcher = new Watcher(_watchBufferCapacity, _applied);
                watcher.Send(new WatchEvent { Flush = new Flush { Sequence = _applied } }, null);
            }

            _watchers.Add(watcher);
            return watcher;
        }
    }

    public void Unsubscribe(Watcher watcher)
    {
        lock (_gate)
        {
            _watchers.Remove(watcher);
        }
    }

    // Callers hold _gate.
    private void FlushCore(long sequence)
    {
        local.Clear();
        _recent.Clear();
        Volatile.Write(ref _applied, sequence);
        Broadcast(new WatchEvent { Flush = new Flush { Sequence = sequence } });
    }

    // Callers hold _gate.
    private void Broadcast(WatchEvent watchEvent)
    {
        foreach (var watcher in _watchers)
        {
            if (watcher.Send(watchEvent, () => new WatchEvent { Flush = new Flush { Sequence = _applied } }))
            {
                _watcherFlushes++;
            }
        }
    }
}

/// <summary>
/// One Watch client's backlog. A client too slow to keep up is never silently thinned: when its buffer is full, what it
/// has not read yet is dropped and replaced by a single flush at the current sequence, so it forgets everything and
/// carries on from there.
/// </summary>
public sealed class Watcher(int capacity, long startSequence)
{
    private readonly Channel<WatchEvent> _events = Channel.CreateBounded<WatchEvent>(new BoundedChannelOptions(capacity)
    {
        // Wait, not DropWrite: with DropWrite TryWrite reports success for an event it drops, hiding the overflow.
        FullMode = BoundedChannelFullMode.Wait,
        SingleWriter = true,
    });

    public ChannelReader<WatchEvent> Events => _events.Reader;

    /// <summary>The sequence the stream is at before its first event.</summary>
    public long StartSequence { get; } = startSequence;

    /// <summary>Queues the event; true when the backlog overflowed and was replaced by a flush. The feed's lock is held.</summary>
    internal bool Send(WatchEvent watchEvent, Func<WatchEvent>? flush)
    {
        if (_events.Writer.TryWrite(watchEvent) || flush is null)
        {
            return false;
        }

        // The reader may take an older event concurrently: it reaches the client before the flush, which is fine.
        while (_events.Reader.TryRead(out _))
        {
        }

        _events.Writer.TryWrite(flush());
        return true;
    }
}
