using System.Buffers;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Keys.KeyAdmin.Rest;

/// <summary>
/// What the REST API answers before JSON transcoding runs an RPC, so that every 4xx carries an <c>ErrorInfo</c> reason:
/// a path under <c>/v1</c> that no operation has (404 <c>ROUTE_NOT_FOUND</c>) or has with other methods (405
/// <c>METHOD_NOT_ALLOWED</c> and <c>Allow</c>); a body over <c>KeyAdmin:MaxRequestBodyBytes</c> (413
/// <c>REQUEST_TOO_LARGE</c>, refused by its Content-Length before a byte is read, or once a chunked body passes the
/// limit); a body that is not UTF-8 JSON (415 <c>UNSUPPORTED_MEDIA_TYPE</c>); a body or query string that does not fit
/// the RPC's request (400 <c>MALFORMED_JSON</c>, or the field's own reason, <see cref="RequestShape"/>). gRPC,
/// the console's files, health and the OpenAPI document are not REST operations and pass untouched.
/// </summary>
public sealed partial class RestConventionsMiddleware(
    RequestDelegate next, RestRoutes routes, ArrayPool<byte> bodies, IOptions<KeyAdminOptions> options, ILogger<RestConventionsMiddleware> logger)
{
    private static readonly PathString ApiRoot = "/v1";

    private readonly int _limit = options.Value.MaxRequestBodyBytes;

    public async Task InvokeAsync(HttpContext context)
    {
        var operation = context.GetEndpoint() is { } endpoint ? routes.Find(endpoint) : null;
        if (operation is null && !context.Request.Path.StartsWithSegments(ApiRoot))
        {
            await next(context);
            return;
        }

        // Kestrel stops any read past the limit, the transcoder's and its own draining of an unread body alike.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = _limit;
        }

        if (context.Request.ContentLength > _limit)
        {
            await RefuseUnreadAsync(context, RestRefusal.RequestTooLarge(_limit));
            return;
        }

        if (operation is null)
        {
            var allowed = routes.AllowedMethods(context.Request.Path);
            if (allowed.Count > 0)
            {
                context.Response.Headers.Allow = string.Join(", ", allowed);
                await RefuseAsync(context, RestRefusal.MethodNotAllowed(allowed));
            }
            else
            {
                await RefuseAsync(context, RestRefusal.RouteNotFound());
            }

            return;
        }

        if (RequestShape.CheckQuery(context.Request.Query, operation.Method.InputType, operation.IsBoundElsewhere) is { } queryRefusal)
        {
            await RefuseAsync(context, queryRefusal);
            return;
        }

        byte[]? rented = null;
        try
        {
            if (operation.BodyType is { } bodyType)
            {
                (rented, var length, var refusal) = await ReadBodyAsync(context);
                refusal ??= RequestShape.CheckBody(rented.AsMemory(0, length), bodyType);
                if (refusal is not null)
                {
                    await RefuseAsync(context, refusal);
                    return;
                }

                // The transcoder reads the checked bytes from memory; so could a handler that needs the body as sent.
                context.Request.Body = new MemoryStream(rented!, 0, length, writable: false);
            }

            await ErrorDetailsGuard.RunAsync(context, next);
        }
        finally
        {
            if (rented is not null)
            {
                // Cleared: the body may hold a key pasted into FindKey, and the next renter of the array reads it.
                bodies.Return(rented, clearArray: true);
            }
        }
    }

    /// <summary>
    /// The body, read whole when it is UTF-8 JSON within the limit (in a pooled array, null when there is no body);
    /// otherwise the refusal, having read at most one byte past the limit.
    /// </summary>
    private async Task<(byte[]? Buffer, int Length, RestRefusal? Refusal)> ReadBodyAsync(HttpContext context)
    {
        var request = context.Request;
        var mayHaveBody = request.ContentLength > 0
            || (request.ContentLength is null && context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true);
        if (!mayHaveBody)
        {
            return (null, 0, null);
        }

        if (!IsUtf8Json(request.ContentType))
        {
            return (null, 0, RestRefusal.UnsupportedMediaType());
        }

        // One byte more than the limit: reading it is how a chunked body shows that it is too large.
        var capacity = (int)Math.Min(request.ContentLength ?? _limit + 1L, _limit + 1L);
        var buffer = bodies.Rent(capacity);
        var length = 0;
        try
        {
            while (length < capacity)
            {
                var read = await request.Body.ReadAsync(buffer.AsMemory(length, capacity - length), context.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            length = _limit + 1;
        }

        if (length > _limit)
        {
            CloseAfterAnswer(context);
            return (buffer, 0, RestRefusal.RequestTooLarge(_limit));
        }

        return (buffer, length, null);
    }

    /// <summary>Refuses a request whose body stays unread.</summary>
    private Task RefuseUnreadAsync(HttpContext context, RestRefusal refusal)
    {
        CloseAfterAnswer(context);
        return RefuseAsync(context, refusal);
    }

    /// <summary>
    /// The rest of the body stays unread: over HTTP/1.x the connection closes after the answer instead of Kestrel
    /// draining the body to reuse it. (HTTP/2 resets the one stream; it has no Connection header.)
    /// </summary>
    private static void CloseAfterAnswer(HttpContext context)
    {
        if (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
        {
            context.Response.Headers.Connection = "close";
        }
    }

    private Task RefuseAsync(HttpContext context, RestRefusal refusal)
    {
        // The route's template, never the path: a path can hold whatever the client put in it.
        LogRefused(context.Request.Method, (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(no route)", refusal.Reason);
        return refusal.WriteAsync(context.Response);
    }

    /// <summary>application/json or any +json type, in UTF-8 (the only charset JSON may be sent in, RFC 8259).</summary>
    private static bool IsUtf8Json(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
        && (mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase))
        && (!mediaType.Charset.HasValue
            || mediaType.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)
            || mediaType.Charset.Equals("utf8", StringComparison.OrdinalIgnoreCase));

    [LoggerMessage(Level = LogLevel.Debug, Message = "REST request refused before its RPC: {Method} {Route}: {Reason}")]
    private partial void LogRefused(string method, string route, string reason);
}
