using System.Threading.Channels;
using Keys.ApiKeys;
using Keys.KeyValidation.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// What this replica knows about KeyAdmin's stream of changes: the last outbox sequence applied here, whether that
/// is known to be current, and the recent invalidations for <c>Watch</c> clients. Invalidations are applied one at a
/// time and in sequence order; whoever finds a gap must catch up before applying more.
/// </summary>
public sealed class InvalidationFeed(LocalRecordCache local, IOptions<KeyValidationOptions> options)
{
    private readonly int _replayCapacity = options.Value.WatchReplayCapacity;

    private readonly Lock _gate = new();
    private readonly Queue<V1.Invalidation> _recent = new();
    private readonly List<Channel<WatchEvent>> _watchers = [];
    private long _applied;
    private bool _current;

    /// <summary>The highest sequence applied here; every earlier one was applied too.</summary>
    public long AppliedSequence => Volatile.Read(ref _applied);

    /// <summary>
    /// False until the first catch-up, and from the moment a gap or a lost subscription is noticed until the catch-up
    /// after it: caches cannot then be trusted, and lookups go to KeyAdmin.
    /// </summary>
    public bool IsCurrent => Volatile.Read(ref _current);

    public void MarkUncertain()
    {
        lock (_gate)
        {
            _current = false;
        }
    }

    /// <summary>Applies one invalidation locally and forwards it to watchers. The caller applied it to Redis first.</summary>
    public void Apply(V1.Invalidation invalidation)
    {
        lock (_gate)
        {
            if (invalidation.Sequence <= _applied)
            {
                return;
            }

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

    /// <summary>
    /// Caches a record a lookup loaded, if it reflects every invalidation applied here (<paramref name="reflectsUpTo"/>
    /// is the sequence the answer is as of). Checked and written under the same lock as <see cref="Apply"/>, so that an
    /// invalidation cannot land between the check and the write and leave the stale record behind.
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

    /// <summary>After a catch-up: the sequence is current again.</summary>
    public void MarkCurrent(long sequence)
    {
        lock (_gate)
        {
            Volatile.Write(ref _applied, Math.Max(_applied, sequence));
            _current = true;
        }
    }

    /// <summary>
    /// Forgets everything cached here, and tells watchers to do the same: for when changes may have been missed and
    /// cannot be replayed (first start, or a restarted Redis).
    /// </summary>
    public void Flush(long sequence)
    {
        lock (_gate)
        {
            local.Clear();
            _recent.Clear();
            Volatile.Write(ref _applied, sequence);
            Broadcast(new WatchEvent { Flush = new Flush { Sequence = sequence } });
        }
    }

    /// <summary>
    /// A watcher's stream: the invalidations after <paramref name="fromSequence"/> that can be replayed, or a flush when
    /// they cannot, then every new one as it is applied.
    /// </summary>
    public ChannelReader<WatchEvent> Subscribe(long fromSequence, out Action unsubscribe)
    {
        var channel = Channel.CreateBounded<WatchEvent>(new BoundedChannelOptions(_replayCapacity + 10_000)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        });

        lock (_gate)
        {
            var oldest = _recent.Count > 0 ? _recent.Peek().Sequence : _applied + 1;
            if (fromSequence == 0 || fromSequence >= _applied)
            {
                channel.Writer.TryWrite(new WatchEvent { Heartbeat = new Heartbeat { Sequence = _applied } });
            }
            else if (fromSequence + 1 >= oldest)
            {
                foreach (var invalidation in _recent.Where(i => i.Sequence > fromSequence))
                {
                    channel.Writer.TryWrite(new WatchEvent { Invalidation = invalidation });
                }
            }
            else
            {
                channel.Writer.TryWrite(new WatchEvent { Flush = new Flush { Sequence = _applied } });
            }

            _watchers.Add(channel);
        }

        unsubscribe = () =>
        {
            lock (_gate)
            {
                _watchers.Remove(channel);
            }
        };
        return channel.Reader;
    }

    public WatchEvent Heartbeat() => new() { Heartbeat = new Heartbeat { Sequence = AppliedSequence } };

    private void Broadcast(WatchEvent watchEvent)
    {
        foreach (var watcher in _watchers)
        {
            // A watcher too slow to keep up must not keep a stale cache: end its stream so that it reconnects and
            // is told to flush.
            if (!watcher.Writer.TryWrite(watchEvent))
            {
                watcher.Writer.TryComplete(new InvalidOperationException("The watcher fell behind."));
            }
        }
    }
}
