using System.Collections.Frozen;
using System.Text.Json;
using Keys.V1;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;

namespace Keys.KeyAdmin.Grpc;

/// <summary>
/// REST's PATCH changes what the body names: when a PATCH of a key or a project sends no <c>updateMask</c>, the mask
/// is the body's top-level properties, so <c>{"expiresAt": null}</c> clears the expiry and <c>{"name": "x"}</c>
/// touches nothing else. JSON transcoding cannot tell a property sent as null from one not sent (both leave the field
/// unset), so this reads the body once before it does, and adds the mask as the query parameter transcoding binds to
/// <c>update_mask</c>: FieldMask's JSON form, comma-separated field names. It runs after the REST conventions, which
/// refuse a missing or malformed body (MALFORMED_JSON); <c>{}</c> changes nothing (NOTHING_TO_UPDATE). Only the two
/// PATCH routes are touched; every other request passes as it came.
/// </summary>
public static class RestUpdateMask
{
    public const string QueryParameter = "updateMask";

    private static readonly FrozenSet<string> PatchMethods = new[]
    {
        KeyAdminService.Descriptor.FindMethodByName("UpdateKey").FullName,
        KeyAdminService.Descriptor.FindMethodByName("UpdateProject").FullName,
    }.ToFrozenSet(StringComparer.Ordinal);

    public static IApplicationBuilder UseRestUpdateMask(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (HttpMethods.IsPatch(context.Request.Method)
            && context.GetEndpoint()?.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is { } transcoding
            && PatchMethods.Contains(transcoding.MethodDescriptor.FullName)
            && !context.Request.Query.Keys.Any(IsMaskParameter))
        {
            await SetMaskFromBodyAsync(context.Request, context.RequestAborted);
        }

        await next(context);
    });

    /// <summary>The top-level property names of a JSON object, each once, in order; null when the body is not one.</summary>
    public static string[]? TopLevelNames(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            var names = new List<string>();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                if (!names.Contains(name, StringComparer.Ordinal))
                {
                    names.Add(name);
                }

                reader.Read();
                reader.Skip();
            }

            // What follows the object, if anything, is transcoding's to refuse.
            return reader.TokenType == JsonTokenType.EndObject ? [.. names] : null;
        }
        catch (JsonException)
        {
            // Malformed: the mask does not matter, transcoding refuses the body as it stands.
            return null;
        }
    }

    // Transcoding binds update_mask from its JSON name or its proto name, and from a path into it (updateMask.paths).
    private static bool IsMaskParameter(string name) =>
        name.StartsWith(QueryParameter, StringComparison.Ordinal) || name.StartsWith("update_mask", StringComparison.Ordinal);

    private static async Task SetMaskFromBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        // The body has been capped by the time it is read here; it is read into memory once and put back for
        // transcoding, which reads it again from the start.
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        var body = buffer.ToArray();
        if (body.Length == 0)
        {
            body = "{}"u8.ToArray();
            request.ContentType ??= "application/json";
        }

        request.Body = new MemoryStream(body, writable: false);
        request.ContentLength = body.Length;
        if (TopLevelNames(body) is { Length: > 0 } names)
        {
            request.QueryString = request.QueryString.Add(QueryParameter, string.Join(',', names));
        }
    }
}
