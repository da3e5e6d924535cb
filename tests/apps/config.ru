# A Rack app for Puma, as Rack's docs write one. Nothing in it knows about sockd: the
# test runs `puma -b tcp://127.0.0.1:9292` in cluster mode with Listen=.
run lambda { |env|
  body = env["rack.input"].read
  [200, { "Content-Type" => "text/plain" },
   ["app=puma pid=#{Process.pid} ip=#{env['REMOTE_ADDR']} port=#{env['SERVER_PORT']} " \
    "method=#{env['REQUEST_METHOD']} body=#{body.bytesize}\n"]]
}
