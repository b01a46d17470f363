// The pages, their paths and the role each needs. The server enforces
// the roles anyway; the UI only hides what a user may not do.

export const ROUTES = [
  {path: '/dashboard', role: 'stats', load: () => import('./pages/dashboard.js')},
  {path: '/interfaces', role: 'stats', load: () => import('./pages/interfaces.js')},
  {path: '/ips', role: 'stats', load: () => import('./pages/ips.js')},
  {path: '/ips/:ip', role: 'stats', load: () => import('./pages/ip.js')},
  {path: '/macs', role: 'stats', load: () => import('./pages/macs.js')},
  {path: '/macs/:mac', role: 'stats', load: () => import('./pages/mac.js')},
  {path: '/connections', role: 'stats', load: () => import('./pages/connections.js')},
  {path: '/modules/:module', role: 'stats', load: () => import('./pages/module.js')},
  {path: '/captures', role: 'pcap', load: () => import('./pages/captures.js')},
  {path: '/ringbuffer', role: 'admin', load: () => import('./pages/ringbuffer.js')},
  {path: '/analysis', role: 'admin', load: () => import('./pages/analysis.js')},
  {path: '/settings', role: 'admin', load: () => import('./pages/settings.js')},
  {path: '/system', load: () => import('./pages/system.js')},
  {path: '/users', role: 'admin', load: () => import('./pages/users.js')},
  {path: '/account', load: () => import('./pages/account.js')},
];

export const NAV = [
  {group: 'Overview', items: [
    {label: 'Dashboard', path: '/dashboard', role: 'stats'},
    {label: 'Interfaces', path: '/interfaces', role: 'stats'},
  ]},
  {group: 'Hosts', items: [
    {label: 'IPs', path: '/ips', role: 'stats'},
    {label: 'MACs', path: '/macs', role: 'stats'},
  ]},
  {group: 'Traffic', items: [
    {label: 'Connections', path: '/connections', role: 'stats'},
    {label: 'L4 ports', path: '/modules/l4_ports', role: 'stats'},
    {label: 'L7 protocols', path: '/modules/dpi', role: 'stats'},
  ]},
  {group: 'Protocols', items: [
    {label: 'DNS', path: '/modules/dns', role: 'stats'},
    {label: 'TCP', path: '/modules/tcp', role: 'stats'},
    {label: 'ARP', path: '/modules/arp', role: 'stats'},
    {label: 'DHCP', path: '/modules/dhcp', role: 'stats'},
    {label: 'ICMP', path: '/modules/icmp', role: 'stats'},
    {label: 'VLAN', path: '/modules/vlan', role: 'stats'},
    {label: 'MPLS', path: '/modules/mpls', role: 'stats'},
    {label: 'QoS', path: '/modules/qos', role: 'stats'},
    {label: 'Packet sizes', path: '/modules/packet_size', role: 'stats'},
    {label: 'EtherTypes', path: '/modules/mac_protocols', role: 'stats'},
    {label: 'SIP', path: '/modules/sip', role: 'stats'},
  ]},
  {group: 'Packets', items: [
    {label: 'Captures', path: '/captures', role: 'pcap'},
    {label: 'Ring buffer', path: '/ringbuffer', role: 'admin'},
    {label: 'Pcap analysis', path: '/analysis', role: 'admin'},
  ]},
  {group: 'System', items: [
    {label: 'System', path: '/system'},
    {label: 'Processing settings', path: '/settings', role: 'admin'},
    {label: 'Users', path: '/users', role: 'admin'},
    {label: 'My account', path: '/account'},
  ]},
];
