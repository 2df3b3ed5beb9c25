using Keys.AspNetCore;
using Keys.Orders.Data;
using Keys.Orders.Grpc;

namespace Keys.Orders;

public static class ApplicationServiceExtensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OrdersOptions>().BindConfiguration(OrdersOptions.SectionName);
        builder.Services.AddGrpc();
        builder.Services.AddGrpcReflection();

        // The one line: API keys checked as the gateway checks them, with KeyValidation's Watch keeping the near cache
        // exact. The credential is ServiceAuth:Token; KeyValidation knows it as ServiceAuth:Callers:orders.
        builder.Services.AddAuthentication(ApiKeyDefaults.AuthenticationScheme).AddApiKey();

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<OrderBook>();
    }

    /// <summary>Reflection in Development, and the unchecked baseline when the benchmark asks for it.</summary>
    public static void MapOptionalEndpoints(this WebApplication app)
    {
        // No credential: reflection tells the service's shape, never data, and only in Development.
        if (app.Environment.IsDevelopment())
        {
            app.MapGrpcReflectionService();
        }

        if (app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<OrdersOptions>>().Value.ServeUncheckedBaseline)
        {
            app.MapGrpcService<OrdersBaselineApi>();
        }
    }
}

public sealed class OrdersOptions
{
    public const string SectionName = "Orders";

    /// <summary>Serve <c>OrdersBaseline</c>, ListOrders without a key check, for the benchmark to compare against.</summary>
    public bool ServeUncheckedBaseline { get; set; }
}
