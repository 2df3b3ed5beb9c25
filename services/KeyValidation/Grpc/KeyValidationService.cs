using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyValidation.Caching;
using Keys.KeyValidation.Invalidation;
using Keys.KeyValidation.Usage;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Grpc;

public sealed class KeyValidationService(
    KeyRecordResolver resolver,
    InvalidationFeed feed,
    UsageRecorder usage,
    ValidationMetrics metrics,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    IOptions<KeyValidationOptions> options) : V1.KeyValidation.KeyValidationBase
{
    private static readonly ValidateResponse InvalidFormat = new() { Outcome = ValidationOutcome.InvalidFormat };

    public override async Task<ValidateResponse> Validate(ValidateRequest request, ServerCallContext context)
    {
        // Garbage is answered from the format and checksum alone: no Redis, KeyAdmin or Postgres work.
        if (!KeyString.TryParse(request.Key, out _))
        {
            metrics.Validated(ValidationOutcome.InvalidFormat);
            return InvalidFormat;
        }

        // Captured before the lookup: every invalidation up to here is reflected in what the lookup can find.
        var asOf = feed.AppliedSequence;
        KeyRecord? record;
        try
        {
            record = await resolver.GetAsync(KeyHash.Of(request.Key));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or RpcException { StatusCode: not StatusCode.Cancelled })
        {
            // Fail closed: the caller must not read a dependency failure as "no such key".
            throw new RpcException(new Status(StatusCode.Unavailable, "Key records cannot be read right now."));
        }

        var response = Evaluate(record, time.GetUtcNow(), asOf);
        metrics.Validated(response.Outcome);
        if (response.Outcome == ValidationOutcome.Valid)
        {
            usage.Record(record!.KeyId);
        }

        return response;
    }

    private static readonly Task<PingResponse> Pong = Task.FromResult(new PingResponse());

    public override Task<PingResponse> Ping(PingRequest request, ServerCallContext context) => Pong;

    public override async Task Watch(WatchRequest request, IServerStreamWriter<WatchEvent> responseStream, ServerCallContext context)
    {
        // A stream lasts until the client goes or this replica stops: shutdown must not wait for watchers, who
        // reconnect (to another replica) and flush.
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var events = feed.Subscribe(request.FromSequence, out var unsubscribe);
        try
        {
            using var heartbeat = new PeriodicTimer(options.Value.WatchHeartbeatInterval);
            var tick = heartbeat.WaitForNextTickAsync(ending.Token).AsTask();
            // Kept across heartbeats: a new wait per heartbeat would pile up pending waits on an idle stream.
            var next = events.WaitToReadAsync(ending.Token).AsTask();
            while (!ending.IsCancellationRequested)
            {
                if (await Task.WhenAny(next, tick) == tick)
                {
                    await tick;
                    await responseStream.WriteAsync(feed.Heartbeat());
                    tick = heartbeat.WaitForNextTickAsync(ending.Token).AsTask();
                    continue;
                }

                if (!await next)
                {
                    // The feed dropped this watcher (it fell behind): ending the call makes the client reconnect and flush.
                    throw new RpcException(new Status(StatusCode.Unavailable, "The watcher fell behind; reconnect."));
                }

                while (events.TryRead(out var watchEvent))
                {
                    await responseStream.WriteAsync(watchEvent);
                }

                next = events.WaitToReadAsync(ending.Token).AsTask();
            }
        }
        catch (OperationCanceledException) when (ending.IsCancellationRequested)
        {
        }
        finally
        {
            unsubscribe();
        }

        if (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "This KeyValidation replica is stopping; reconnect."));
        }
    }

    // Both ends are checked on every call, so a cached record turns at the exact second: a delete's revocation, the
    // end of a roll's grace period, and expiry.
    private static ValidateResponse Evaluate(KeyRecord? record, DateTimeOffset now, long asOf)
    {
        if (record is null)
        {
            return new ValidateResponse { Outcome = ValidationOutcome.NotFound, AsOfSequence = asOf };
        }

        if (record.RevokedAt is not null && record.RevokedAt.ToDateTimeOffset() <= now)
        {
            return new ValidateResponse { Outcome = ValidationOutcome.Revoked, AsOfSequence = asOf };
        }

        if (record.ExpiresAt is not null && record.ExpiresAt.ToDateTimeOffset() <= now)
        {
            return new ValidateResponse { Outcome = ValidationOutcome.Expired, AsOfSequence = asOf };
        }

        return new ValidateResponse
        {
            Outcome = ValidationOutcome.Valid,
            KeyId = record.KeyId,
            ProjectId = record.ProjectId,
            Environment = record.Environment,
            Type = record.Type,
            Scopes = { record.Scopes },
            ExpiresAt = record.ExpiresAt,
            RevokesAt = record.RevokedAt,
            AsOfSequence = asOf,
        };
    }
}
