#!/usr/bin/perl
# Parses messages with SpamAssassin's own parser and prints, one JSON
# object per line, what scoring/message computes for the same message:
# body and rawbody arrays, URI list, decoded header fields, leaf part
# types, parse flags and HTML results. Used by sa_test.go.
#
# Usage: sa_parse.pl RULES_DIR FILE...
use strict;
use warnings;
use Mail::SpamAssassin;
use JSON::PP;

my $rules = shift @ARGV;
my $sa = Mail::SpamAssassin->new({
  local_tests_only => 1, dont_copy_prefs => 1,
  userprefs_filename => '/dev/null', site_rules_filename => '/nonexistent',
  rules_filename => $rules,
});
$sa->init(0);
my $json = JSON::PP->new->canonical(1)->utf8(1);
binmode STDOUT, ':raw';

# Text as characters where it is UTF-8, else (bytes) as Latin-1.
sub chars { my $x = shift; utf8::decode($x); return $x }

for my $file (@ARGV) {
  my $raw = do { open my $fh, '<', $file or die "$file: $!"; local $/; <$fh> };
  my $msg = $sa->parse($raw, 1);
  my $pms = Mail::SpamAssassin::PerMsgStatus->new($sa, $msg);
  # Rendering the body also collects the HTML results.
  my $body = $msg->get_rendered_body_text_array();
  my %headers;
  for my $name (@{ $msg->{header_order} }) {
    next if exists $headers{lc $name};
    $headers{lc $name} = [ map { my $v = $_; chomp $v; chars($v) } $msg->get_header($name) ];
  }
  my @html;
  for my $h (@{ $msg->{metadata}->{html_all} || [] }) {
    my %r;
    for my $k (qw(length html_length non_space_len ratio image_area min_size max_size
                  closed_extra_ratio bad_tag_ratio non_element_ratio obfuscation_ratio
                  backhair_count font_low_contrast font_invalid_color font_face_bad
                  embeds form_action_mailto uri_truncated)) {
      $r{$k} = $h->{$k} + 0 if defined $h->{$k};
    }
    $r{inside} = $h->{inside} || {};
    push @html, \%r;
  }
  print $json->encode({
    file    => $file,
    body    => [ map { chars($_) } @$body ],
    rawbody => [ map { chars($_) } @{ $msg->get_decoded_body_text_array() } ],
    uris    => [ sort map { chars($_) } $pms->get_uri_list() ],
    headers => \%headers,
    types   => [ map { $_->{type} } $msg->find_parts(qr/./, 1) ],
    flags   => [ grep { $msg->{$_} } qw(missing_head_body_separator missing_mime_head_body_separator
                   missing_mime_headers truncated_header mime_epilogue_exists mimepart_limit_exceeded) ],
    html    => \@html,
  }), "\n";
  $pms->finish;
  $msg->finish;
}
